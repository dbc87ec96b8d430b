"""The append-only, hash-chained audit log.

Each entry stores `prev_hash` (the previous entry's hash; 64 zeros for the first) and
`hash = sha256(prev_hash + canonical JSON of the entry's content)`. Editing an entry breaks its
own hash; deleting or reordering entries breaks the next entry's `prev_hash`. `verify` walks
the log in id order and reports the first broken entry.

Appends are serialised so the chain never forks: SQLite transactions already hold the write
lock (BEGIN IMMEDIATE); on PostgreSQL a transaction-scoped advisory lock is taken.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, or_, select, text
from sqlalchemy.orm import Session

from core.models.base import utcnow
from core.models.governance import AuditEntry

if TYPE_CHECKING:
    from core.auth import Actor

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x1ED6E5A0  # advisory lock id: "the audit chain tail"
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


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Store exactly what is hashed: JSON-safe values only (dates, decimals become strings).
    return None if value is None else json.loads(json.dumps(value, default=str))


def entry_hash(
    prev_hash: str,
    at: datetime,
    actor: str,
    actor_role: str,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> str:
    """The hash of one entry's content chained to the previous hash."""
    content = json.dumps(
        {
            "at": at.isoformat(),
            "actor": actor,
            "actor_role": actor_role,
            "action": action,
            "target": target,
            "before": before,
            "after": after,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def record(
    session: Session,
    actor: Actor | str,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """Append one entry (in the caller's transaction, so it commits with the change it records)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    session.flush()  # earlier entries of this transaction must be visible to the tail query
    prev = (
        session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    )
    name = actor if isinstance(actor, str) else actor.username
    role = "system" if isinstance(actor, str) else actor.role
    at = utcnow()
    b, a = _plain(before), _plain(after)
    entry = AuditEntry(
        at=at,
        actor=name[:80],
        actor_role=role[:16],
        action=action[:80],
        target=target[:255],
        before=b,
        after=a,
        prev_hash=prev,
        hash=entry_hash(prev, at, name[:80], role[:16], action[:80], target[:255], b, a),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain."""

    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str | None = None

    def summary(self) -> str:
        """One line for the CLI and the page."""
        if self.ok:
            return f"audit chain intact: {self.checked} entries verified"
        return f"audit chain BROKEN at entry {self.broken_id}: {self.problem}"


def verify(session: Session, batch: int = 2000) -> VerifyResult:
    """Walk the whole log by id; report the first edited, deleted or reordered entry."""
    expected_prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > last_id)
                .order_by(AuditEntry.id)
                .limit(batch)
            )
        )
        if not rows:
            return VerifyResult(ok=True, checked=checked)
        for row in rows:
            if row.prev_hash != expected_prev:
                return VerifyResult(
                    False,
                    checked,
                    row.id,
                    "it does not follow the entry before it (an entry was deleted or moved)",
                )
            if (
                entry_hash(
                    row.prev_hash,
                    row.at,
                    row.actor,
                    row.actor_role,
                    row.action,
                    row.target,
                    row.before,
                    row.after,
                )
                != row.hash
            ):
                return VerifyResult(
                    False,
                    checked,
                    row.id,
                    "its content was changed after it was written",
                )
            expected_prev = row.hash
            checked += 1
            last_id = row.id


@dataclass(frozen=True)
class AuditFilter:
    """Search criteria for the audit log page and export."""

    text: str = ""
    actor: str = ""
    action: str = ""
    target: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None


def _query(f: AuditFilter) -> Select[AuditEntry]:
    q = select(AuditEntry)
    if f.actor:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action:
        q = q.where(AuditEntry.action.like(f"{f.action}%"))
    if f.target:
        q = q.where(AuditEntry.target.like(f"%{f.target}%"))
    if f.text:
        like = f"%{f.text}%"
        q = q.where(
            or_(
                AuditEntry.actor.like(like),
                AuditEntry.action.like(like),
                AuditEntry.target.like(like),
            )
        )
    if f.date_from:
        q = q.where(AuditEntry.at >= f.date_from)
    if f.date_to:
        q = q.where(AuditEntry.at < f.date_to)
    return q


def search(session: Session, f: AuditFilter, limit: int = 500) -> list[AuditEntry]:
    """Newest entries first that match the filter."""
    return list(session.scalars(_query(f).order_by(AuditEntry.id.desc()).limit(limit)))


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
    # Spreadsheet apps run cells starting with these as formulas.
    return "'" + text_value if text_value[:1] in ("=", "+", "-", "@") else text_value


def iter_csv(session: Session, f: AuditFilter | None = None) -> Iterator[str]:
    """The matching entries as CSV lines (oldest first), header included."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    q = _query(f or AuditFilter()).order_by(AuditEntry.id)
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
