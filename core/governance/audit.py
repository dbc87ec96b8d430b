"""The append-only, keyed, hash-chained audit log.

Each entry stores `prev_hash` (the previous entry's hash; 64 zeros for the first) and
`hash = HMAC-SHA256(audit key, prev_hash + canonical JSON of the entry's content)`
(`hash_version` 2). The key lives outside the database (Settings.audit_key, AUDIT_KEY_FILE) and
reaches this module in the session's `info` (core/db.make_sessionmaker), so whoever can write the
table cannot recompute a chain. Entries written before the key existed keep their plain
`sha256(prev_hash + content)` (`hash_version` 1) and still verify; once a keyed entry appears,
every later entry must be keyed. Editing an entry breaks its
own hash; deleting or reordering entries breaks the next entry's `prev_hash`; deleting the
newest entries is caught against the anchored chain head (core/governance/anchors.py). `verify` walks
the log in id order and reports the first broken entry. `verify_from` continues an earlier intact
result with only the entries appended since (re-checking the last verified one), optionally a
bounded number of rows at a time, so a page can keep the status current without an O(n) walk.

Appends are serialised so the chain never forks: SQLite transactions already hold the write
lock (BEGIN IMMEDIATE), so an entry is chained as it is recorded. On PostgreSQL several workers
share the database, so an entry is only buffered in the session when it is recorded (a savepoint
that rolls back drops what it recorded) and the whole buffer is chained at commit: a
transaction-scoped advisory lock is taken, the tail read once, the entries inserted, and the lock
is released by the commit right after. The lock is held for that short append, never across a
batch's work, and entries take their ids (the chain's order) inside it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, event, insert, select, text
from sqlalchemy.orm import Session, SessionTransaction

from core.db import AUDIT_KEY_INFO
from core.errors import ConfigError
from core.governance.audit_log import (
    CSV_COLUMNS,
    AuditFilter,
    distinct_values,
    export_csv,
    iter_csv,
    search,
)
from core.models.base import utcnow
from core.models.governance import AuditEntry

if TYPE_CHECKING:
    from core.governance.auth import Actor

__all__ = [
    "CSV_COLUMNS",
    "GENESIS",
    "KEYED",
    "UNKEYED",
    "AuditFilter",
    "VerifyResult",
    "distinct_values",
    "entry_hash",
    "export_csv",
    "iter_csv",
    "record",
    "search",
    "session_key",
    "verify",
    "verify_from",
]

GENESIS = "0" * 64
UNKEYED, KEYED = 1, 2  # hash_version
_PG_AUDIT_LOCK = 0x1ED6E5A0  # advisory lock id: "the audit chain tail"
_TAIL_INFO = "ledgerdesk.audit_tail"  # session.info: (transaction, hash, hash_version)
_PENDING = "ledgerdesk.audit_pending"  # session.info: [(transaction, entry)] to chain at commit


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
    key: bytes | None = None,
) -> str:
    """The hash of one entry's content chained to the previous hash (keyed when `key` is given)."""
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
    message = (prev_hash + content).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def session_key(session: Session) -> bytes | None:
    """The audit key the session was opened with (None: a session without one)."""
    secret = session.info.get(AUDIT_KEY_INFO)
    return bytes.fromhex(secret.reveal()) if secret else None


def record(
    session: Session,
    actor: Actor | str,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """Append one entry (in the caller's transaction, so it commits with the change it records).

    On PostgreSQL the entry is chained when the transaction commits (see the module text); on
    SQLite at once.
    """
    name = actor if isinstance(actor, str) else actor.username
    role = "system" if isinstance(actor, str) else actor.role
    entry = AuditEntry(
        at=utcnow(),
        actor=name[:80],
        actor_role=role[:16],
        action=action[:80],
        target=target[:255],
        before=_plain(before),
        after=_plain(after),
    )
    if session.get_bind().dialect.name == "postgresql":
        session.connection()  # begins the transaction the entry belongs to, if not yet begun
        current = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_PENDING, []).append((current, entry))
        return entry
    _chain(session, [entry])
    return entry


_TABLE = cast(Table, AuditEntry.__table__)
_COLUMNS = (
    "at",
    "actor",
    "actor_role",
    "action",
    "target",
    "before",
    "after",
    "prev_hash",
    "hash",
    "hash_version",
)
_INSERT = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)
_INSERT_WITH_ID = insert(_TABLE)


def _chain(session: Session, entries: list[AuditEntry]) -> None:
    """Chain `entries` after the log's tail (read once per transaction) and insert them."""
    prev, prev_version = _tail(session)
    key = session_key(session)
    if key is None and prev_version == KEYED:
        raise ConfigError(
            "The audit trail is signed with an audit key, but this process has none: "
            "set AUDIT_KEY_FILE to the desk's key file."
        )
    if session.get_bind().dialect.name == "postgresql":
        # The ids are the chain's order: taken (under the lock) and handed out in order.
        ids = sorted(
            session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"
                ),
                {"t": AuditEntry.__tablename__, "n": len(entries)},
            )
        )
        for e, entry_id in zip(entries, ids, strict=True):
            e.id = entry_id
    for e in entries:
        e.prev_hash = prev
        e.hash = prev = entry_hash(
            prev, e.at, e.actor, e.actor_role, e.action, e.target, e.before, e.after, key
        )
        e.hash_version = UNKEYED if key is None else KEYED
    # One Core INSERT (executemany) rather than an ORM flush per entry; the entries returned to
    # callers carry their ids.
    rows = [{c: getattr(e, c) for c in _COLUMNS} for e in entries]
    if entries[0].id is not None:
        for row, e in zip(rows, entries, strict=True):
            row["id"] = e.id
        session.execute(_INSERT_WITH_ID, rows)
    else:
        ids = session.execute(_INSERT, rows).scalars().all()
        for e, entry_id in zip(entries, ids, strict=True):
            e.id = entry_id
    session.info[_TAIL_INFO] = (session.get_transaction(), prev, entries[-1].hash_version)


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    """At the outermost commit: take the chain's lock, chain the buffered entries, insert them."""
    if session.in_nested_transaction() or not session.info.get(_PENDING):
        return
    entries = [entry for _, entry in session.info.pop(_PENDING)]
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    _chain(session, entries)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without committing (closed, rolled back) leaves nothing behind."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    """A rolled-back savepoint (or transaction) takes the entries it recorded with it."""
    pending = session.info.get(_PENDING)
    if not pending:
        return

    def inside(trans: SessionTransaction | None) -> bool:
        while trans is not None:
            if trans is rolled_back:
                return True
            trans = trans.parent
        return False

    session.info[_PENDING] = [(t, e) for t, e in pending if not inside(t)]


def _tail(session: Session) -> tuple[str, int | None]:
    """(hash, hash_version) of the chain's newest entry, read once per transaction.

    The first entry a transaction appends reads the tail (on PostgreSQL under the advisory lock,
    held until the transaction ends, so no one else appends in between); later ones continue from
    the entry written before. A rolled-back savepoint drops the cached tail (its entries are gone).
    """
    cached = session.info.get(_TAIL_INFO)
    if cached is not None and cached[0] is session.get_transaction():
        return cached[1], cached[2]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    session.flush()  # earlier entries of this transaction must be visible to the tail query
    tail = session.execute(
        select(AuditEntry.hash, AuditEntry.hash_version).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if tail is None:
        return GENESIS, None
    return tail.hash, tail.hash_version


@event.listens_for(Session, "after_soft_rollback")
def _forget_tail(session: Session, previous_transaction: Any) -> None:
    # Entries written inside what was rolled back are gone: the next append re-reads the tail.
    session.info.pop(_TAIL_INFO, None)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain (and where to resume it)."""

    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str | None = None
    last_id: int = 0  # the last entry verified intact: verify_from resumes after it
    last_hash: str = GENESIS
    complete: bool = True  # False when a bounded walk stopped before the end of the log
    keyed: bool = False  # a keyed entry was seen: every later one must be keyed too
    anchored_at: str | None = None  # the time of the anchored head the log was checked against

    def summary(self) -> str:
        """One line for the CLI and the page."""
        if self.ok and not self.complete:
            return f"audit chain intact so far: {self.checked} entries verified, checking continues"
        if self.ok:
            against = f", matches the head anchored {self.anchored_at}" if self.anchored_at else ""
            return f"audit chain intact: {self.checked} entries verified{against}"
        where = f"at entry {self.broken_id}" if self.broken_id is not None else "(audit key)"
        return f"audit chain BROKEN {where}: {self.problem}"


_MOVED = "it does not follow the entry before it (an entry was deleted or moved)"
_CHANGED = "its content was changed after it was written"
_CHANGED_KEYED = (
    "its content was changed after it was written, or the audit key is not the one it was "
    "signed with (check AUDIT_KEY_FILE)"
)
_NO_KEY = (
    "it is signed with the audit key, which this process does not have: set AUDIT_KEY_FILE "
    "to the desk's key file"
)
_DOWNGRADED = (
    "it is not signed with the audit key although an earlier entry is (it was rewritten "
    "without the key)"
)


def _problem(row: AuditEntry, key: bytes | None, keyed_before: bool) -> str | None:
    """Why the entry's own hash is wrong, or None when it is right."""
    if row.hash_version == UNKEYED:
        if keyed_before:
            return _DOWNGRADED
        key_used = None
    elif row.hash_version == KEYED:
        if key is None:
            return _NO_KEY
        key_used = key
    else:
        return _CHANGED
    content = (row.at, row.actor, row.actor_role, row.action, row.target, row.before, row.after)
    if entry_hash(row.prev_hash, *content, key_used) == row.hash:
        return None
    return _CHANGED if key_used is None else _CHANGED_KEYED


def verify(session: Session, batch: int = 2000) -> VerifyResult:
    """Walk the whole log by id; report the first edited, deleted or reordered entry."""
    return verify_from(session, None, batch=batch)


def verify_from(
    session: Session,
    since: VerifyResult | None,
    batch: int = 2000,
    max_rows: int | None = None,
) -> VerifyResult:
    """Continue an intact earlier result (None: from the start), at most `max_rows` entries now."""
    key = session_key(session)
    expected_prev, checked, last_id, keyed = GENESIS, 0, 0, False
    if since is not None and since.ok and since.last_id:
        # The resume point itself must still be there, unchanged: otherwise report it.
        anchor = session.get(AuditEntry, since.last_id, populate_existing=True)
        if anchor is None:
            return VerifyResult(False, since.checked - 1, since.last_id, _MOVED)
        problem = _CHANGED if anchor.hash != since.last_hash else None
        problem = problem or _problem(anchor, key, since.keyed)
        if problem:
            return VerifyResult(False, since.checked - 1, since.last_id, problem)
        expected_prev, checked, last_id = since.last_hash, since.checked, since.last_id
        keyed = since.keyed
    budget = max_rows
    while True:
        size = batch if budget is None else min(batch, budget)
        rows = (
            list(
                session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.id > last_id)
                    .order_by(AuditEntry.id)
                    .limit(size)
                )
            )
            if size > 0
            else []
        )
        if not rows:
            more = size <= 0 and session.scalar(
                select(AuditEntry.id).where(AuditEntry.id > last_id).limit(1)
            )
            return VerifyResult(
                True, checked, None, None, last_id, expected_prev, not more, keyed=keyed
            )
        for row in rows:
            if row.prev_hash != expected_prev:
                return VerifyResult(False, checked, row.id, _MOVED)
            problem = _problem(row, key, keyed)
            if problem:
                return VerifyResult(False, checked, row.id, problem)
            expected_prev = row.hash
            keyed = keyed or row.hash_version == KEYED
            checked += 1
            last_id = row.id
        if budget is not None:
            budget -= len(rows)
