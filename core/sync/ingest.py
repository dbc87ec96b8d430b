"""Ingestion: store a batch of Stripe events once, and keep the latest snapshot of each object.

This is the hot path (tens of thousands of events per second into SQLite), so it works on plain
dicts and Core statements, never ORM objects per row: one duplicate check, one multi-row insert
with ON CONFLICT DO NOTHING, one snapshot upsert guarded by `source_created`, per batch. Every
event and its object are encoded to JSON once (core/sync/ingest_prepare.py) and handed to the
driver as text — multi-row statements on SQLite (core/sync/ingest_sqlite.py), one statement of
column arrays on PostgreSQL (core/sync/ingest_pg.py) — so neither SQLAlchemy nor its JSON type
touch the rows again. Many pages at once go through core/sync/ingest_pipeline.py.

A malformed event never stops the batch and is never lost: it is stored as a `dead` row with a
readable reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.orm import Session

from core.db import insert_ignore
from core.models.base import JSONType, UTCDateTime, utcnow
from core.models.sync import SnapshotRefresh
from core.sync import ingest_pg, ingest_sqlite
from core.sync.ingest_prepare import PreparedBatch, prepare_events
from core.sync.snapshots import lock_snapshot_writes


def _tables() -> tuple[Table, Table]:
    """Lightweight Core tables for the PostgreSQL path (SQLite goes through ingest_sqlite)."""
    payload_type: Any = JSONType
    md = MetaData()
    events = Table(
        "events",
        md,
        Column("event_id", String),
        Column("account", String),
        Column("type", String),
        Column("created", BigInteger),
        Column("api_version", String),
        Column("livemode", Boolean),
        Column("object_id", String),
        Column("payload", payload_type),
        Column("source", String),
        Column("received_at", UTCDateTime),
        Column("status", String),
        Column("attempts", Integer),
        Column("next_attempt_at", UTCDateTime),
        Column("last_error", Text),
    )
    objects = Table(
        "stripe_objects",
        md,
        Column("id", String, primary_key=True),
        Column("account", String),
        Column("object_type", String),
        Column("source_created", BigInteger),
        Column("source_event_id", String),
        Column("data", payload_type),
        Column("updated_at", UTCDateTime),
    )
    return events, objects


_EVENTS, _OBJECTS = _tables()


@dataclass
class IngestResult:
    """What one batch did: new rows, duplicates suppressed, dead letters, newest `created`."""

    received: int = 0
    new: int = 0
    duplicates: int = 0
    dead: int = 0
    snapshots: int = 0
    refresh_requested: int = 0
    newest_created: int | None = None
    dead_reasons: list[str] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        """Accumulate another batch's figures into this one."""
        self.received += other.received
        self.new += other.new
        self.duplicates += other.duplicates
        self.dead += other.dead
        self.snapshots += other.snapshots
        self.refresh_requested += other.refresh_requested
        if other.newest_created is not None:
            self.newest_created = max(self.newest_created or 0, other.newest_created)
        self.dead_reasons.extend(other.dead_reasons)


def store_batch(session: Session, batch: PreparedBatch) -> IngestResult:
    """Store a prepared batch in the caller's transaction; events already stored are skipped."""
    result = IngestResult(received=batch.received, duplicates=batch.duplicates)
    if not batch.rows:
        return result
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        ingest_sqlite.prepare_connection(session)
    ids = [r["event_id"] for r in batch.rows]
    existing = _existing_ids(session, sqlite, ids)
    rows = [r for r in batch.rows if r["event_id"] not in existing] if existing else batch.rows
    result.duplicates += len(batch.rows) - len(rows)
    for r in rows:
        if r["status"] == "dead":
            result.dead += 1
            result.dead_reasons.append(f"{r['event_id']}: {r['last_error']}")
        elif result.newest_created is None or r["created"] > result.newest_created:
            result.newest_created = r["created"]
    if rows:
        if batch.raw_json:
            insert = ingest_sqlite.insert_events if sqlite else ingest_pg.insert_events
            added = insert(session, rows)
            if added != len(rows):
                # SQLite: BEGIN IMMEDIATE holds the write lock since the duplicate check, so this
                # cannot happen. PostgreSQL: a concurrent writer (a webhook) stored one of them
                # meanwhile. Either way, roll the page back rather than miscount it.
                raise RuntimeError(f"{len(rows) - added} events appeared mid-transaction")
        else:
            stmt = (
                _insert_module(session)
                .insert(_EVENTS)
                .on_conflict_do_nothing(index_elements=["event_id"])
            )
            session.execute(stmt, rows)
    result.new = len(rows) - result.dead
    snapshots = batch.snapshots
    if existing:
        # A stored event's snapshot was applied when it was first stored.
        snapshots = {k: v for k, v in snapshots.items() if v["source_event_id"] not in existing}
    ties = dict(batch.ties)
    if snapshots:
        result.snapshots, tied = _apply_snapshots(session, batch.raw_json, sqlite, snapshots)
        ties.update(tied)
    if ties:
        result.refresh_requested = request_refresh(
            session, [(oid, acct, otype) for oid, (acct, otype) in ties.items()]
        )
    return result


def _existing_ids(session: Session, sqlite: bool, ids: list[str]) -> set[str]:
    if sqlite:
        return ingest_sqlite.existing_event_ids(ingest_sqlite.driver_connection(session), ids)
    table = _EVENTS
    existing: set[str] = set()
    for chunk in _chunks(ids, 500):
        existing.update(
            session.execute(select(table.c.event_id).where(table.c.event_id.in_(chunk))).scalars()
        )
    return existing


def ingest_events(
    session: Session,
    events: Sequence[Any],
    *,
    account: str = "",
    source: str = "poll",
    now: datetime | None = None,
) -> IngestResult:
    """Store `events` (oldest first) in the caller's transaction; duplicates are skipped."""
    batch = prepare_events(events, account=account, source=source, raw_json=True, now=now)
    return store_batch(session, batch)


def _apply_snapshots(
    session: Session, raw_json: bool, sqlite: bool, snapshots: dict[str, dict[str, Any]]
) -> tuple[int, dict[str, tuple[str, str]]]:
    """Upsert snapshots newer than (or as new as) what is stored; report same-second conflicts."""
    stored = _stored_snapshots(session, sqlite, list(snapshots))
    rows: list[dict[str, Any]] = []
    ties: dict[str, tuple[str, str]] = {}
    for oid, snap in snapshots.items():
        have = stored.get(oid)
        if have is not None:
            if have[0] > snap["source_created"]:
                continue  # an older event never overwrites a newer snapshot
            if have[0] == snap["source_created"] and have[1] != snap["source_event_id"]:
                ties[oid] = (snap["account"], snap["object_type"])
        rows.append(snap)
    if rows and raw_json and sqlite:
        ingest_sqlite.upsert_snapshots(session, rows)
    elif rows and raw_json:
        ingest_pg.upsert_snapshots(session, lock_snapshot_writes(session, rows))
    elif rows:
        table = _OBJECTS
        ins = _insert_module(session).insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=["id"],
            set_={c: ins.excluded[c] for c in ingest_sqlite.SNAPSHOT_UPDATE_COLUMNS},
            # Guard again in SQL: a concurrent writer (webhook and poll) may have moved ahead.
            where=ins.excluded.source_created >= table.c.source_created,
        )
        session.execute(stmt, lock_snapshot_writes(session, rows))
    return len(rows), ties


def _stored_snapshots(
    session: Session, sqlite: bool, ids: list[str]
) -> dict[str, tuple[int, str | None]]:
    if sqlite:
        return ingest_sqlite.stored_snapshots(ingest_sqlite.driver_connection(session), ids)
    table = _OBJECTS
    stored: dict[str, tuple[int, str | None]] = {}
    for chunk in _chunks(ids, 500):
        for oid, created, source_event in session.execute(
            select(table.c.id, table.c.source_created, table.c.source_event_id).where(
                table.c.id.in_(chunk)
            )
        ):
            stored[oid] = (created, source_event)
    return stored


def request_refresh(
    session: Session,
    objects: Iterable[tuple[str, str, str]],
    *,
    now: datetime | None = None,
) -> int:
    """Queue objects for a fresh read from Stripe (their latest state is ambiguous)."""
    now = now or utcnow()
    rows = [
        {"object_id": oid, "account": acct, "object_type": otype, "requested_at": now}
        for oid, acct, otype in objects
    ]
    insert_ignore(session, SnapshotRefresh.__table__, rows, ["object_id"])  # type: ignore[arg-type]
    return len(rows)


def _insert_module(session: Session) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
