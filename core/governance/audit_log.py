"""Reading the audit log: the filtered, newest-first search the governance pages show, the
distinct actors and actions they filter by, and the CSV export (cells neutralised so that a
spreadsheet shows them, never runs them). Writing and verifying the chain is
core/governance/audit.py, which re-exports these names.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from core.adapters.cells import neutralise_text
from core.governance import audit_text
from core.models.governance import AuditEntry

CSV_COLUMNS = (
    "id",
    "at",
    "actor",
    "actor_role",
    "action",
    "target",
    "before",
    "after",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class AuditFilter:
    """Search criteria for the audit log page and export."""

    text: str = ""
    actor: str = ""
    action: str = ""
    target: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None


def _query(f: AuditFilter, session: Session) -> Select[AuditEntry]:
    q = select(AuditEntry)
    if f.actor:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action:
        q = q.where(AuditEntry.action.like(f"{f.action}%"))
    if f.target:
        q = q.where(AuditEntry.target.like(f"%{f.target}%"))
    if f.text:
        # Codes, details, customer names and amounts: what a person would type.
        q = q.where(audit_text.text_clause(session, f.text))
    if f.date_from:
        q = q.where(AuditEntry.at >= f.date_from)
    if f.date_to:
        q = q.where(AuditEntry.at < f.date_to)
    return q


def search(
    session: Session,
    f: AuditFilter,
    limit: int = 500,
    before: tuple[datetime, int] | None = None,
) -> list[AuditEntry]:
    """Newest entries first that match the filter; `before` = (at, id) of the last row shown."""
    # Ordered by (at, id), which the `at` indexes serve directly: the database stops after
    # `limit` rows instead of sorting every match (entries are appended in time order).
    q = _query(f, session)
    if before is not None:
        at, entry_id = before
        q = q.where(
            AuditEntry.at <= at,
            or_(AuditEntry.at < at, and_(AuditEntry.at == at, AuditEntry.id < entry_id)),
        )
    q = q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(session.scalars(q))


def distinct_values(session: Session) -> tuple[list[str], list[str]]:
    """Known actors and actions, for the filter dropdowns."""
    actors = sorted(session.scalars(select(AuditEntry.actor).distinct()))
    actions = sorted(session.scalars(select(AuditEntry.action).distinct()))
    return actors, actions


def _cell(value: Any) -> str:
    text_value = (
        ""
        if value is None
        else (json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value))
    )
    return neutralise_text(text_value)  # a spreadsheet shows it, never runs it


def iter_csv(session: Session, f: AuditFilter | None = None) -> Iterator[str]:
    """The matching entries as CSV lines (oldest first), header included."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    q = _query(f or AuditFilter(), session).order_by(AuditEntry.id)
    for row in session.execute(q.execution_options(yield_per=1000)).scalars():
        buf.seek(0)
        buf.truncate()
        writer.writerow(
            [_cell(getattr(row, c)) if c != "at" else row.at.isoformat() for c in CSV_COLUMNS]
        )
        yield buf.getvalue()


def export_csv(session: Session, f: AuditFilter | None = None) -> str:
    """The matching entries as one CSV text."""
    return "".join(iter_csv(session, f))
