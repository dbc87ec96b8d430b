"""Export a work queue (failed payments, disputes, approvals, outbox) as CSV or XLSX.

The files go through the report writers (core/reports/writers.py), so text a spreadsheet would
run as a formula is neutralised and money is in major units with its currency (a number cell
with the currency's format in XLSX). Exporting needs an operator (the queues name customers)
and is audited when the file is produced, which happens when someone asks to download it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InputError
from core.governance import audit
from core.governance.auth import Actor, require_role
from core.governance.states import OPEN
from core.models.disputes import DisputeCase
from core.models.governance import ActionRequest, OutboxMessage
from core.models.recovery import RecoveryCase
from core.reports.writers import FORMATS, major_units, to_csv, to_xlsx

MAX_ROWS = 20000
EXPORT_FORMATS = ("csv", "xlsx")


def _when(value: datetime | int | None, tz: Any) -> str:
    if value is None or value == 0:
        return ""
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int) else value
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _failed_payments(session: Session, tz: Any) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(RecoveryCase)
        .where(RecoveryCase.status == "open")
        .order_by(RecoveryCase.priority.desc(), RecoveryCase.id)
        .limit(MAX_ROWS)
    )
    return [
        {
            "invoice": c.invoice_id,
            "customer": c.customer_name or "",
            "customer email": c.customer_email or "",
            "amount due": c.amount_remaining or c.amount_due,
            "currency": c.currency,
            "bucket": c.bucket.replace("_", " "),
            "attempts": c.attempt_count,
            "escalated": "yes" if c.escalated else "no",
            "assigned to": c.assigned_to or "",
            "account owner": c.owner or "",
            "first failed": _when(c.first_failed_at, tz),
            "next retry": _when(c.next_payment_attempt, tz),
        }
        for c in rows
    ]


def _disputes(session: Session, tz: Any) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(DisputeCase)
        .where(DisputeCase.closed_at.is_(None))
        .order_by(DisputeCase.due_by, DisputeCase.id)
        .limit(MAX_ROWS)
    )
    return [
        {
            "dispute": d.dispute_id,
            "charge": d.charge_id or "",
            "amount": d.amount,
            "currency": d.currency,
            "reason": d.reason.replace("_", " "),
            "status": d.status.replace("_", " "),
            "respond by": _when(d.due_by, tz),
            "owner": d.owner or "",
            "evidence submitted": "yes" if d.submitted_at else "no",
        }
        for d in rows
    ]


def _approvals(session: Session, tz: Any) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ActionRequest)
        .where(ActionRequest.status.in_([s.value for s in OPEN]))
        .order_by(ActionRequest.id)
        .limit(MAX_ROWS)
    )
    return [
        {
            "request": a.id,
            "type": a.action_type.replace("_", " "),
            "on": a.target_id,
            "amount": a.amount,
            "currency": a.currency or "",
            "status": a.status,
            "approvals needed": a.required_approvals,
            "requested by": a.requested_by,
            "reason": a.reason,
            "rule": a.rule_id or "",
            "requested": _when(a.created_at, tz),
            "expires": _when(a.expires_at, tz),
        }
        for a in rows
    ]


def _outbox(session: Session, tz: Any) -> list[dict[str, Any]]:
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(MAX_ROWS))
    return [
        {
            "message": m.id,
            "channel": m.channel,
            "to": m.recipient,
            "subject": m.subject,
            "status": m.status,
            "attempts": m.attempts,
            "about": m.related or "",
            "queued": _when(m.created_at, tz),
            "sent": _when(m.sent_at, tz),
            "problem": m.last_error or "",
        }
        for m in rows
    ]


@dataclass(frozen=True)
class Queue:
    """One exportable queue: its title, rows and money columns (minor units in the rows)."""

    title: str
    rows: Callable[[Session, Any], list[dict[str, Any]]]
    money: tuple[str, ...] = ()


QUEUES: dict[str, Queue] = {
    "failed_payments": Queue("Failed payments", _failed_payments, ("amount due",)),
    "disputes": Queue("Disputes", _disputes, ("amount",)),
    "approvals": Queue("Approvals", _approvals, ("amount",)),
    "outbox": Queue("Outbox", _outbox),
}


@dataclass(frozen=True)
class QueueFile:
    """A produced export."""

    filename: str
    mime: str
    data: bytes
    rows: int


def queue_frame(session: Session, name: str, tz: Any = UTC) -> pd.DataFrame:
    """The queue as a table, money in major units."""
    queue = QUEUES.get(name)
    if queue is None:
        raise InputError(f"Unknown queue {name!r}: choose one of {', '.join(QUEUES)}.")
    df = pd.DataFrame(queue.rows(session, tz))
    if df.empty:
        return df
    money = [c for c in queue.money if c in df.columns]
    return major_units(df, money) if money else df


def export_queue(session: Session, actor: Actor, name: str, fmt: str, tz: Any = UTC) -> QueueFile:
    """Produce the file (audited as handed over); operators and above."""
    require_role(actor, "operator", "approver", "admin")
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"Export as {' or '.join(EXPORT_FORMATS)}, not {fmt!r}.")
    df = queue_frame(session, name, tz)
    queue = QUEUES[name]
    data = to_csv(df) if fmt == "csv" else to_xlsx(df, queue.title, queue.money)
    stamp = datetime.now(UTC).astimezone(tz).strftime("%Y-%m-%d")
    audit.record(
        session, actor, "queue.exported", f"queue:{name}", None, {"format": fmt, "rows": len(df)}
    )
    return QueueFile(
        f"ledgerdesk-{name.replace('_', '-')}-{stamp}.{fmt}", FORMATS[fmt][0], data, len(df)
    )
