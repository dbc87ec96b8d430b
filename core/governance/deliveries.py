"""What the outbox did with each message, on the record: every final outcome (sent, superseded,
failed, unknown) is audited, and the action that queued a message that did not go out says so
(the action stays `succeeded`, its job, queuing, was done; its note and result name the outcome).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.adapters import outbox
from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import Settings
from core.governance import audit
from core.governance.auth import SYSTEM_ACTOR
from core.models.base import utcnow
from core.models.governance import ActionRequest, OutboxMessage

ACTION_PREFIX = "action:"
NOT_SENT = {"superseded": "not sent", "failed": "failed", "unknown": "may not have been sent"}


def queued_by(msg: OutboxMessage) -> int | None:
    """The id of the action that queued the message, if an action did."""
    key = msg.dedupe_key or ""
    tail = key.removeprefix(ACTION_PREFIX)
    return int(tail) if key.startswith(ACTION_PREFIX) and tail.isdigit() else None


def record_delivery(session: Session, msg: OutboxMessage, status: str, reason: str | None) -> None:
    """Audit one final outcome; when the message did not go out, note it on its action."""
    action_id = queued_by(msg)
    audit.record(
        session,
        SYSTEM_ACTOR,
        f"outbox.{status}",
        f"outbox:{msg.id}",
        None,
        {
            "channel": msg.channel,
            "related": msg.related,
            "action": action_id,
            "attempts": msg.attempts,
            "reason": reason,
        },
    )
    if action_id is None or status not in NOT_SENT:
        return
    action = session.get(ActionRequest, action_id)
    if action is None:
        return
    what = "Email" if msg.channel == "email" else "Alert"
    result: dict[str, Any] = dict(action.result or {})
    result.update(delivery=status, delivery_reason=reason, outbox_id=msg.id)
    session.execute(
        update(ActionRequest)
        .where(ActionRequest.id == action_id)
        .values(
            result=result,
            outcome_note=f"{what} {NOT_SENT[status]}: {reason}",
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def deliver(
    Session: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    timeout: float = outbox.TIMEOUT_SECONDS,
) -> outbox.DeliveryReport:
    """Run the outbox with every outcome recorded (the job and the page call this); with a
    Stripe key, each customer message is held against the Stripe object as it is now."""
    fetch = StripeGateway(make_client(settings)).retrieve if settings.stripe_api_key else None
    return outbox.deliver(
        Session, settings, now=now, timeout=timeout, observe=record_delivery, fetch=fetch
    )
