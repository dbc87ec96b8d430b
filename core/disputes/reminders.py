"""Deadline reminders, escalation of unowned disputes and the large-dispute alert (to the team
channel and, when `[disputes] escalation_email` is set, to that address).

Exactly once per dispute and threshold: the `dispute_reminders` row (unique on case ×
threshold) is inserted with ON CONFLICT DO NOTHING in the same transaction as the outbox
messages, so a scheduler restart, a second scheduler or a retried run can never send a
reminder twice — the one that inserted the row sends, every other one sees 0 rows and skips.
Nothing is sent once evidence is submitted or the dispute is closed. An appeal has its own
deadline and its own reminders at the same thresholds (recorded as "appeal-7d", ...), so they
are sent again for it.

Alerts carry the dispute's brief (what happened, the account, the recommendation and what is
missing) instead of raw data; the brief comes from the modules core.handlers.BRIEF_MODULES
names, which register with `@alert_brief` (the reports package reads every domain; this one
does not import it). Without a registered writer the alert lists the recent charges instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core.adapters.outbox import queue_chat, queue_email
from core.adapters.stripe_links import dashboard_url
from core.db import insert_ignore
from core.disputes.deadlines import countdown_text, deadline_text, reminder_due
from core.disputes.evidence.context import _objects
from core.disputes.labels import reason_label
from core.disputes.settings import DisputeConfig
from core.governance.audit_text import customer_names
from core.handlers import BRIEF_MODULES
from core.models.base import utcnow
from core.models.context import CrmAccount
from core.models.disputes import OPEN_STATUSES, DisputeCase, DisputeReminder, awaiting_response
from core.money import format_money

DAY = 86_400
APPEAL_PREFIX = "appeal-"
_REMINDERS = cast(Table, DisputeReminder.__table__)

AlertBrief = Callable[[Session, DisputeCase, str], str | None]
_BRIEF_WRITERS: list[AlertBrief] = []


def alert_brief(fn: AlertBrief) -> AlertBrief:
    """Register a writer of an alert's brief: (session, case, team time zone) → text or None."""
    if fn not in _BRIEF_WRITERS:
        _BRIEF_WRITERS.append(fn)
    return fn


def brief_text(session: Session, case: DisputeCase, tz: str) -> str | None:
    """The brief a registered writer gives for the case, or None."""
    for name in BRIEF_MODULES:
        importlib.import_module(name)
    for writer in _BRIEF_WRITERS:
        text = writer(session, case, tz)
        if text:
            return text
    return None


def reminder_label(case: DisputeCase, threshold: str) -> str:
    """The once-only key of a reminder: an appeal's reminders are distinct from the first ones."""
    return APPEAL_PREFIX + threshold if case.is_appeal else threshold


def _sent_for_stage(case: DisputeCase, labels: set[str]) -> set[str]:
    """The thresholds already reminded in the case's current stage."""
    if case.is_appeal:
        return {x.removeprefix(APPEAL_PREFIX) for x in labels if x.startswith(APPEAL_PREFIX)}
    return {x for x in labels if not x.startswith(APPEAL_PREFIX)}


def _email(session: Session, to: str, subject: str, body: str, key: str, related: str) -> None:
    queue_email(session, to, subject, body, key, related=related)  # not read back


def _chat(session: Session, text: str, key: str) -> None:
    queue_chat(session, text, key)


def _claim(session: Session, case: DisputeCase, threshold: str) -> bool:
    """Insert the once-only row; True when this caller is the one that sends."""
    row = {
        "case_id": case.id,
        "threshold": threshold,
        "due_by": case.due_by or 0,
        "sent_at": utcnow(),
    }
    # One statement built once (ON CONFLICT DO NOTHING ... RETURNING), the row its parameters.
    return insert_ignore(session, _REMINDERS, [row], ["case_id", "threshold"]) == 1


def _who(session: Session, case: DisputeCase) -> str:
    """The disputing customer's name (the Stripe id when the customer is not synced)."""
    if not case.customer_id:
        return "Unknown customer"
    return customer_names(session, [case.customer_id]).get(case.customer_id, case.customer_id)


def dispute_ref(case: DisputeCase, mode: str) -> str:
    """The dispute id with its Stripe dashboard page beside it (the id alone in sandbox mode)."""
    url = dashboard_url(case.dispute_id, mode=mode, account=case.account or "")
    return f"{case.dispute_id} ({url})" if url else case.dispute_id


def _headline(session: Session, case: DisputeCase, now: int, tz: str, mode: str) -> str:
    """Customer — amount — reason, the deadline and time left, then the dispute as a link."""
    what = "appeal evidence" if case.is_appeal else "evidence"
    return (
        f"{_who(session, case)} — {format_money(case.amount, case.currency)} — "
        f"{reason_label(case.reason)}: {what} due {deadline_text(case.due_by, now, tz)} "
        f"({countdown_text(case.due_by, now)}). Dispute {dispute_ref(case, mode)}"
    )


def crm_owner(session: Session, customer_id: str | None) -> str | None:
    """The account owner the CRM names for a customer, when it is an e-mail address."""
    if not customer_id:
        return None
    owner = session.scalar(
        select(CrmAccount.owner).where(CrmAccount.stripe_customer_id == customer_id).limit(1)
    )
    return owner.strip().lower() if owner and "@" in owner else None


def recent_charges_text(session: Session, case: DisputeCase, now: int) -> str:
    """The customer's last 90 days of charges, one line each, for alerts."""
    if not case.customer_id:
        return "  (no customer on the charge)"
    charges = [
        c
        for c in _objects(session, "charge", customer=case.customer_id)
        if int(c.get("created") or 0) >= now - 90 * DAY
    ]
    charges.sort(key=lambda c: -int(c.get("created") or 0))
    lines = [
        f"  {datetime.fromtimestamp(int(c['created']), UTC):%Y-%m-%d} "
        f"{format_money(c.get('amount'), c.get('currency'))} {c.get('status')}"
        + (" DISPUTED" if c.get("disputed") else "")
        + (" refunded" if c.get("refunded") else "")
        for c in charges[:30]
    ]
    return "\n".join(lines) or "  (none in the last 90 days)"


def owner_at_creation(session: Session, case: DisputeCase, cfg: DisputeConfig) -> bool:
    """Before a new case is first written: its owner and, when it will be escalated (open and
    unowned), its escalation time, so that one INSERT carries them. True when escalating."""
    if case.owner is None:
        with session.no_autoflush:  # the case is not written yet
            case.owner = crm_owner(session, case.customer_id) or cfg.default_owner
    if case.owner is not None or case.status not in OPEN_STATUSES:
        return False
    case.escalated_at = utcnow()
    return True


def on_new_dispute(
    session: Session,
    case: DisputeCase,
    cfg: DisputeConfig,
    now: int | None = None,
    *,
    tz: str = "UTC",
    mode: str = "sandbox",
    escalating: bool = False,
) -> None:
    """At creation: set the owner, escalate an unowned case, alert on a large one (texts in the
    team's time zone, `Settings.team_timezone`; dashboard links for `mode`, `Settings.stripe_mode`).
    `escalating`: `owner_at_creation` already set the escalation time, to be kept only when this
    run is the one that escalates."""
    now = now if now is not None else int(datetime.now(UTC).timestamp())
    if case.owner is None:
        case.owner = crm_owner(session, case.customer_id) or cfg.default_owner
    related = f"dispute:{case.dispute_id}"
    if case.status not in OPEN_STATUSES:
        return  # backfilled history: nothing to chase
    claimed = case.owner is None and _claim(session, case, "escalation")
    if escalating and not claimed:
        case.escalated_at = None  # someone else escalated it: as if it had never been set
    if claimed:
        if not escalating:
            case.escalated_at = utcnow()
        brief = brief_text(session, case, tz)
        text = f"Unowned dispute needs an owner. {_headline(session, case, now, tz, mode)}"
        if brief:
            text += f"\nBrief: {brief}"
        _chat(session, text, f"dispute-escalation:{case.dispute_id}:chat")
        if cfg.escalation_email:
            _email(
                session,
                cfg.escalation_email,
                f"Unowned dispute: {_who(session, case)}, "
                f"{format_money(case.amount, case.currency)} ({reason_label(case.reason)})",
                text,
                f"dispute-escalation:{case.dispute_id}:email",
                related,
            )
    if case.amount > cfg.alert_threshold and _claim(session, case, "alert"):
        brief = brief_text(session, case, tz)  # the same facts: stored once, read again
        text = (
            f"Large dispute opened. {_headline(session, case, now, tz, mode)}. "
            f"Owner: {case.owner or 'none'}.\n"
        )
        if brief:
            text += f"Brief: {brief}"
        else:
            text += f"{_who(session, case)} — charges in the last 90 days:\n" + recent_charges_text(
                session, case, now
            )
        _chat(session, text, f"dispute-alert:{case.dispute_id}:chat")
        if cfg.escalation_email:  # the team address of [disputes]: the alert also goes by e-mail
            _email(
                session,
                cfg.escalation_email,
                f"Large dispute: {_who(session, case)}, "
                f"{format_money(case.amount, case.currency)} ({reason_label(case.reason)})",
                text + "\nOpen the Disputes page to review the evidence packet.",
                f"dispute-alert:{case.dispute_id}:email",
                related,
            )


@dataclass(frozen=True)
class ReminderRun:
    """What one reminders run did."""

    checked: int
    sent: list[tuple[str, str]]  # (dispute id, threshold)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "checked": self.checked,
            "sent": [{"dispute": d, "threshold": t} for d, t in self.sent],
        }


def send_due_reminders(
    session: Session, cfg: DisputeConfig, now: int, tz: str = "UTC", mode: str = "sandbox"
) -> ReminderRun:
    """Send every reminder whose threshold has been crossed and not yet sent (texts in `tz`,
    the team's time zone from the settings; dashboard links for `mode`)."""
    cases = list(
        session.scalars(select(DisputeCase).where(awaiting_response(), DisputeCase.due_by > now))
    )
    sent_rows = (
        session.execute(
            select(DisputeReminder.case_id, DisputeReminder.threshold).where(
                DisputeReminder.case_id.in_([c.id for c in cases])
            )
        ).all()
        if cases
        else []
    )
    already: dict[int, set[str]] = {}
    for case_id, threshold in sent_rows:
        already.setdefault(case_id, set()).add(threshold)
    sent: list[tuple[str, str]] = []
    for case in cases:
        hit = reminder_due(
            case.due_by,
            now,
            _sent_for_stage(case, already.get(case.id, set())),
            answered=case.answered,
            thresholds=cfg.thresholds,
        )
        label = reminder_label(case, hit.label) if hit else ""
        if hit is None or not _claim(session, case, label):
            continue
        stage = "appeal deadline" if case.is_appeal else "deadline"
        text = (
            f"Reminder ({hit.label} before the {stage}). {_headline(session, case, now, tz, mode)}"
        )
        key = f"dispute-reminder:{case.dispute_id}:{label}"
        to = case.owner or cfg.escalation_email
        if to:
            _email(
                session,
                to,
                f"Dispute of {_who(session, case)}: {'appeal ' if case.is_appeal else ''}"
                f"evidence due {deadline_text(case.due_by, now, tz)} "
                f"({countdown_text(case.due_by, now)})",
                text
                + (f"\nBrief: {brief}" if (brief := brief_text(session, case, tz)) else "")
                + "\nOpen the Disputes page to review the evidence packet.",
                f"{key}:email",
                f"dispute:{case.dispute_id}",
            )
        _chat(
            session,
            text + (f" Owner: {case.owner}." if case.owner else " No owner!"),
            f"{key}:chat",
        )
        sent.append((case.dispute_id, label))
    return ReminderRun(checked=len(cases), sent=sent)
