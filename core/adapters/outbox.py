"""The outbox: customer emails (SMTP) and internal alerts (Slack incoming webhook), each sent
at most once.

A message is stored once per `dedupe_key` (a second enqueue returns the first). Delivery claims
a row (`pending → sending`, committed) before talking to the server, and records `sent` after;
a refused connection or a temporary error puts it back to `pending` with exponential backoff.
A row left in `sending` by a crash is never re-sent blindly: it becomes `unknown` for a person
to check, because sending twice is worse than asking. Without SMTP_URL (the sandbox demo) or
SLACK_WEBHOOK_URL, messages are `held` in the outbox and shown in the UI instead; once the
channel is configured, the next run releases them like any pending message.

Just before a message is claimed, the check registered for what it is about (`related`: an
invoice, a subscription, a dispute) re-reads the case and the stored Stripe object; a message
whose reason has gone becomes `superseded` with that reason instead of being sent. The domains
register their checks with `@still_true(kind)` in the modules named in
core/handlers.OUTBOX_CHECK_MODULES, so this adapter imports no domain.

A message the server refuses for good, or one that cannot be written as an email at all (a
recipient or subject with a line break), becomes `failed` with the reason and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.adapters.outbox_checks import (
    CHECKS,
    Check,
    Fetch,
    about,
    load_check_modules,
    recheck,
    still_true,
)
from core.adapters.outbox_files import Attachment, attach_once, attachments_of
from core.adapters.outbox_transport import (
    TIMEOUT_SECONDS,
    PermanentFailure,
    TemporaryFailure,
    build_email,
    message_id,
    post_to_slack,
    send_email,
)
from core.config import Settings
from core.db import insert_ignore
from core.errors import CoreError
from core.models.base import utcnow
from core.models.governance import OutboxMessage

__all__ = [
    "STATUSES",
    "TIMEOUT_SECONDS",
    "CHECKS",
    "Attachment",
    "Check",
    "Fetch",
    "about",
    "load_check_modules",
    "DeliveryReport",
    "PermanentFailure",
    "TemporaryFailure",
    "build_email",
    "counts",
    "deliver",
    "enqueue_chat",
    "enqueue_email",
    "list_messages",
    "message_id",
    "post_to_slack",
    "queue_chat",
    "queue_email",
    "recheck",
    "send_email",
    "still_true",
]

MAX_ATTEMPTS = 8
STALE_SENDING = timedelta(minutes=10)
STATUSES = ("pending", "sending", "sent", "held", "failed", "unknown", "superseded")

log = logging.getLogger(__name__)

Observer = Callable[[Session, "OutboxMessage", str, "str | None"], None]
"""(session, message, new status, reason): called in the transaction that records the outcome."""


def _rowcount(result: Any) -> int:
    # UPDATE results carry rowcount (CursorResult); the generic Result type does not say so.
    return int(getattr(result, "rowcount", 0) or 0)


def _insert(
    session: Session,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    dedupe_key: str,
    related: str | None,
) -> bool:
    """Insert one message unless its dedupe_key is stored; True when this call queued it."""
    row = {
        "channel": channel,
        "dedupe_key": dedupe_key[:255],
        "recipient": recipient[:255],
        "subject": subject[:255],
        "body": body,
        "related": related,
        "status": "pending",
        "attempts": 0,
        "created_at": utcnow(),
    }
    return insert_ignore(session, _OUTBOX, [row], ["dedupe_key"]) == 1


_OUTBOX = cast(Table, OutboxMessage.__table__)
_BY_KEY = select(OutboxMessage).where(OutboxMessage.dedupe_key == bindparam("key"))


def _enqueue(
    session: Session,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    dedupe_key: str,
    related: str | None,
) -> OutboxMessage:
    _insert(session, channel, recipient, subject, body, dedupe_key, related)
    msg = session.scalar(_BY_KEY, {"key": dedupe_key[:255]})
    assert msg is not None
    return msg


def _chat_fields(text: str) -> tuple[str, str, str]:
    """(recipient, subject, body) of an alert for the team channel."""
    return "team channel", text.splitlines()[0][:120] if text else "", text


def queue_email(
    session: Session, to: str, subject: str, body: str, dedupe_key: str, related: str | None = None
) -> bool:
    """Queue one email without reading it back (for callers that need no message object, e.g.
    a batch of events): one INSERT. True when queued, False when the dedupe_key already was."""
    return _insert(session, "email", to, subject, body, dedupe_key, related)


def queue_chat(session: Session, text: str, dedupe_key: str, related: str | None = None) -> bool:
    """Queue one internal alert without reading it back (see `queue_email`)."""
    return _insert(session, "chat", *_chat_fields(text), dedupe_key, related)


def enqueue_email(
    session: Session,
    to: str,
    subject: str,
    body: str,
    dedupe_key: str,
    related: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> OutboxMessage:
    """Queue one email (with files attached, kept with it); the same dedupe_key never queues a
    second one, nor attaches the files twice."""
    msg = _enqueue(session, "email", to, subject, body, dedupe_key, related)
    if attachments:
        attach_once(session, msg.id, attachments)
    return msg


def enqueue_chat(
    session: Session, text: str, dedupe_key: str, related: str | None = None
) -> OutboxMessage:
    """Queue one internal alert for the team channel."""
    return _enqueue(session, "chat", *_chat_fields(text), dedupe_key, related)


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, status: str) -> None:
        """Count one message outcome."""
        self.counts[status] = self.counts.get(status, 0) + 1

    def summary(self) -> str:
        """One line for the CLI."""
        if not self.counts:
            return "outbox: nothing to deliver"
        return "outbox: " + ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def _hold_reason(settings: Settings, channel: str) -> str | None:
    if channel == "email" and not settings.smtp_url:
        return (
            "held (demo): kept in the outbox" if settings.sandbox else "held: SMTP_URL is not set"
        )
    if channel == "chat" and not settings.slack_webhook_url:
        return "held: SLACK_WEBHOOK_URL is not set"
    return None


def _set(session: Session, msg_id: int, expected: str, **values: Any) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == msg_id, OutboxMessage.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def _finish(
    session: Session,
    msg_id: int,
    expected: str,
    status: str,
    observe: Observer | None,
    report: DeliveryReport,
    **values: Any,
) -> None:
    if not _set(session, msg_id, expected, status=status, **values):
        return
    if observe is not None:
        fresh = session.get(OutboxMessage, msg_id, populate_existing=True)
        assert fresh is not None
        observe(session, fresh, status, fresh.last_error)
    report.add(status)


def _channel_ready(settings: Settings) -> list[str]:
    return [c for c in ("email", "chat") if _hold_reason(settings, c) is None]


def deliver(
    Session: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = 100,
    timeout: float = TIMEOUT_SECONDS,
    observe: Observer | None = None,
    fetch: Fetch | None = None,
) -> DeliveryReport:
    """Send what is due; each message is re-checked, then claimed, so it never goes out twice.

    Held messages of a channel that is configured now are released (re-checked like the rest).
    `observe` is told every final outcome in the transaction that records it (for the audit).
    `fetch` re-reads the Stripe object a message is about; when that read fails, the message
    waits for the next run instead of going out on the desk's possibly stale copy.
    """
    now = now or utcnow()
    report = DeliveryReport()
    load_check_modules()

    def finish(session: Any, msg: OutboxMessage, expected: str, status: str, **values: Any) -> None:
        _finish(session, msg.id, expected, status, observe, report, **values)

    with Session.begin() as session:
        stale = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_at <= now - STALE_SENDING,
            )
        ).all()
        for msg in stale:
            finish(
                session,
                msg,
                "sending",
                "unknown",
                last_error="delivery was interrupted; check the mail server before resending",
            )
        ready = _channel_ready(settings)
        due_ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(
                    (
                        (OutboxMessage.status == "pending")
                        & (
                            (OutboxMessage.next_attempt_at.is_(None))
                            | (OutboxMessage.next_attempt_at <= now)
                        )
                    )
                    | ((OutboxMessage.status == "held") & OutboxMessage.channel.in_(ready))
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )
    for msg_id in due_ids:
        with Session.begin() as session:
            found = session.get(OutboxMessage, msg_id)
            if found is None or found.status not in ("pending", "held"):
                continue  # another deliverer took it
            msg = found
            status = msg.status
            hold = _hold_reason(settings, msg.channel)
            if hold:
                if status == "pending" and _set(
                    session, msg.id, "pending", status="held", last_error=hold
                ):
                    report.add("held")
                continue
            try:
                reason = recheck(session, msg, fetch)
            except CoreError as exc:
                if _set(
                    session,
                    msg.id,
                    status,
                    status="pending",
                    last_error=f"not sent yet: could not re-read it in Stripe ({exc})",
                    next_attempt_at=now + _backoff(msg.attempts + 1),
                ):
                    report.add("retrying")
                continue
            if reason is not None:
                finish(session, msg, status, "superseded", last_error=reason, next_attempt_at=None)
                continue
            if not _set(
                session,
                msg.id,
                status,
                status="sending",
                claimed_at=now,
                attempts=OutboxMessage.attempts + 1,
            ):
                continue  # another deliverer took it
            session.refresh(msg)
            files = attachments_of(session, msg.id) if msg.channel == "email" else []
            session.expunge(msg)
        try:
            if msg.channel == "email":
                assert settings.smtp_url is not None
                send_email(settings.smtp_url.reveal(), settings.smtp_from, msg, timeout, files)
            else:
                assert settings.slack_webhook_url is not None
                post_to_slack(settings.slack_webhook_url.reveal(), msg.body, timeout)
        except (TemporaryFailure, PermanentFailure) as exc:
            final = isinstance(exc, PermanentFailure) or msg.attempts >= MAX_ATTEMPTS
            with Session.begin() as session:
                if final:
                    finish(
                        session, msg, "sending", "failed", last_error=str(exc), next_attempt_at=None
                    )
                elif _set(
                    session,
                    msg.id,
                    "sending",
                    status="pending",
                    last_error=str(exc),
                    next_attempt_at=now + _backoff(msg.attempts),
                ):
                    report.add("retrying")
            continue
        except Exception as exc:
            # Unforeseen: it may or may not have reached the server, so never re-send it blindly.
            log.exception("outbox #%s: unexpected delivery error", msg.id)
            with Session.begin() as session:
                finish(
                    session,
                    msg,
                    "sending",
                    "unknown",
                    last_error=f"delivery broke off ({type(exc).__name__}: {exc}); "
                    "check the mail server before resending",
                )
            continue
        with Session.begin() as session:
            finish(session, msg, "sending", "sent", sent_at=utcnow(), last_error=None)
    return report


def list_messages(
    session: Session, status: str | None = None, limit: int = 200
) -> list[OutboxMessage]:
    """Outbox messages, newest first (optionally one status)."""
    q = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        q = q.where(OutboxMessage.status == status)
    return list(session.scalars(q))


def counts(session: Session) -> dict[str, int]:
    """How many messages are in each status."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {s: int(n) for s, n in rows}
