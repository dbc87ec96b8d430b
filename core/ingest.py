"""Ingestion: store a batch of Stripe events once, and keep the latest snapshot of each object.

This is the hot path (tens of thousands of events per second into SQLite), so it works on plain
dicts and Core statements, never ORM objects per row: one duplicate check, one multi-row insert
with ON CONFLICT DO NOTHING, one snapshot upsert guarded by `source_created`, per batch. Every
event and its object are encoded to JSON once (orjson) and, on SQLite, handed to the driver as
text (core/ingest_sqlite.py), so neither SQLAlchemy nor its JSON type touch the rows again.

A malformed event never stops the batch and is never lost: it is stored as a `dead` row with a
readable reason (and a stub payload when the original cannot be kept).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
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

from core import ingest_sqlite
from core.db import insert_ignore
from core.models.base import JSONType, UTCDateTime, utcnow
from core.models.sync import SnapshotRefresh

MAX_EVENT_BYTES = 1024 * 1024
SOURCES = ("poll", "webhook", "backfill", "sweep")
_TYPE_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_loads = orjson.loads


def _dumps(value: Any) -> str:
    """Compact UTF-8 JSON text (orjson: about 10x faster than the json module on events)."""
    return orjson.dumps(value).decode()


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


def event_problem(event: Any) -> str | None:
    """Why `event` cannot be ingested as a Stripe event, or None when it is well-formed."""
    if not isinstance(event, dict):
        return f"the event is a {type(event).__name__}, not a JSON object"
    eid = event.get("id")
    if not isinstance(eid, str) or not eid.startswith("evt_") or len(eid) > 255:
        return "the event has no valid `id` (expected a string starting with evt_)"
    etype = event.get("type")
    if not isinstance(etype, str) or not _TYPE_RE.match(etype):
        return f"unknown event type {str(etype)[:80]!r}"
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or created <= 0:
        return "`created` is not a positive integer timestamp"
    data = event.get("data")
    if not isinstance(data, dict):
        return "the event has no `data` object"
    obj = data.get("object")
    if not isinstance(obj, dict):
        return "`data.object` is missing or not an object"
    prev = data.get("previous_attributes")
    if prev is not None and not isinstance(prev, dict):
        return "`data.previous_attributes` is not an object"
    version = event.get("api_version")
    if version is not None and not isinstance(version, str):
        return "`api_version` is not a string"
    return None


def _encode(event: dict[str, Any]) -> tuple[str, str]:
    """(event JSON, object JSON): the stored payload and the snapshot's data."""
    return _dumps(event), _dumps(event["data"]["object"])


def _dead_row(
    event: Any, reason: str, account: str, source: str, now: datetime, raw_json: bool
) -> dict[str, Any]:
    is_dict = isinstance(event, dict)
    eid = event.get("id") if is_dict else None
    try:
        text = _dumps(event)
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        text = repr(event)
    if not isinstance(eid, str) or not eid or len(eid) > 200:
        # No usable id: derive a stable one so a re-delivery dead-letters the same row once.
        eid = "invalid_" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]
    if len(text) > MAX_EVENT_BYTES or not is_dict:
        payload: Any = {
            "_rejected": reason,
            "_bytes": len(text),
            "excerpt": text[:2000],
        }
    else:
        payload = _loads(text)
    etype = event.get("type") if is_dict else None
    created = event.get("created") if is_dict else None
    return {
        "event_id": eid,
        "account": account,
        "type": etype[:128] if isinstance(etype, str) else "unknown",
        "created": created if isinstance(created, int) and not isinstance(created, bool) else 0,
        "api_version": None,
        "livemode": False,
        "object_id": None,
        "payload": _dumps(payload) if raw_json else payload,
        "source": source,
        "received_at": now,
        "status": "dead",
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": f"rejected at ingestion: {reason}",
    }


@dataclass
class PreparedBatch:
    """Rows ready to store: validated, encoded once, newest snapshot per object picked."""

    raw_json: bool
    received: int
    rows: list[dict[str, Any]]
    snapshots: dict[str, dict[str, Any]]
    ties: dict[str, tuple[str, str]]
    duplicates: int = 0


def prepare_events(
    events: Sequence[Any],
    *,
    account: str = "",
    source: str = "poll",
    raw_json: bool = True,
    now: datetime | None = None,
) -> PreparedBatch:
    """Validate and encode `events` (oldest first); no database access, so it can run ahead."""
    now = now or utcnow()
    rows: list[dict[str, Any]] = []
    snapshots: dict[str, dict[str, Any]] = {}
    ties: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()
    batch = PreparedBatch(raw_json, len(events), rows, snapshots, ties)
    for event in events:
        problem = event_problem(event)
        event_json = obj_json = ""
        if problem is None:
            try:
                event_json, obj_json = _encode(event)
            except (TypeError, ValueError) as exc:
                problem = f"the event cannot be encoded as JSON ({exc})"
            else:
                if len(event_json) > MAX_EVENT_BYTES:
                    problem = (
                        f"the payload is {len(event_json):,} bytes, over the "
                        f"{MAX_EVENT_BYTES:,}-byte limit"
                    )
        if problem is not None:
            row = _dead_row(event, problem, account, source, now, raw_json)
        else:
            obj = event["data"]["object"]
            obj_id = obj.get("id") if isinstance(obj.get("id"), str) else None
            row = {
                "event_id": event["id"],
                "account": account or (event.get("account") or ""),
                "type": event["type"],
                "created": event["created"],
                "api_version": event.get("api_version"),
                "livemode": bool(event.get("livemode", False)),
                "object_id": obj_id,
                "payload": event_json if raw_json else _loads(event_json),
                "source": source,
                "received_at": now,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
            }
        if row["event_id"] in seen:
            batch.duplicates += 1
            continue
        seen.add(row["event_id"])
        rows.append(row)
        if problem is None and row["object_id"] and isinstance(obj.get("object"), str):
            _pick_snapshot(snapshots, ties, row, obj, obj_json if raw_json else obj)
    return batch


def _pick_snapshot(
    snapshots: dict[str, dict[str, Any]],
    ties: dict[str, tuple[str, str]],
    row: dict[str, Any],
    obj: dict[str, Any],
    data: Any,
) -> None:
    oid, created = row["object_id"], row["created"]
    current = snapshots.get(oid)
    if current is not None and current["source_created"] == created and current["data"] != data:
        # Two different states in one second: which is newer is unknowable from the events.
        ties[oid] = (current["account"], current["object_type"])
    if current is None or created >= current["source_created"]:
        snapshots[oid] = {
            "id": oid,
            "account": row["account"],
            "object_type": obj["object"][:64],
            "source_created": created,
            "source_event_id": row["event_id"],
            "data": data,
            "updated_at": row["received_at"],
        }


def store_batch(session: Session, batch: PreparedBatch) -> IngestResult:
    """Store a prepared batch in the caller's transaction; events already stored are skipped."""
    result = IngestResult(received=batch.received, duplicates=batch.duplicates)
    if not batch.rows:
        return result
    if batch.raw_json:
        ingest_sqlite.prepare_connection(session)
    ids = [r["event_id"] for r in batch.rows]
    existing = _existing_ids(session, batch.raw_json, ids)
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
            added = ingest_sqlite.insert_events(session, rows)
            if added != len(rows):
                # BEGIN IMMEDIATE holds the write lock since the duplicate check, so this cannot
                # happen; if it ever did, roll the page back rather than miscount it.
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
        result.snapshots, tied = _apply_snapshots(session, batch.raw_json, snapshots)
        ties.update(tied)
    if ties:
        result.refresh_requested = request_refresh(
            session, [(oid, acct, otype) for oid, (acct, otype) in ties.items()]
        )
    return result


def _existing_ids(session: Session, raw_json: bool, ids: list[str]) -> set[str]:
    if raw_json:
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
    raw_json = session.get_bind().dialect.name == "sqlite"
    batch = prepare_events(events, account=account, source=source, raw_json=raw_json, now=now)
    return store_batch(session, batch)


def merge_batches(batches: Sequence[PreparedBatch]) -> PreparedBatch:
    """Several prepared pages as one batch (one transaction), later pages winning snapshots."""
    if len(batches) == 1:
        return batches[0]
    merged = PreparedBatch(batches[0].raw_json, 0, [], {}, {})
    seen: set[str] = set()
    for b in batches:
        merged.received += b.received
        merged.duplicates += b.duplicates
        for r in b.rows:
            if r["event_id"] in seen:
                merged.duplicates += 1
                continue
            seen.add(r["event_id"])
            merged.rows.append(r)
        merged.ties.update(b.ties)
        for oid, snap in b.snapshots.items():
            cur = merged.snapshots.get(oid)
            if (
                cur is not None
                and cur["source_created"] == snap["source_created"]
                and cur["source_event_id"] != snap["source_event_id"]
                and cur["data"] != snap["data"]
            ):
                merged.ties[oid] = (snap["account"], snap["object_type"])
            if cur is None or snap["source_created"] >= cur["source_created"]:
                merged.snapshots[oid] = snap
    return merged


def _apply_snapshots(
    session: Session, raw_json: bool, snapshots: dict[str, dict[str, Any]]
) -> tuple[int, dict[str, tuple[str, str]]]:
    """Upsert snapshots newer than (or as new as) what is stored; report same-second conflicts."""
    stored = _stored_snapshots(session, raw_json, list(snapshots))
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
    if rows and raw_json:
        ingest_sqlite.upsert_snapshots(session, rows)
    elif rows:
        table = _OBJECTS
        ins = _insert_module(session).insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=["id"],
            set_={
                c: ins.excluded[c]
                for c in (
                    "account",
                    "object_type",
                    "source_created",
                    "source_event_id",
                    "data",
                    "updated_at",
                )
            },
            # Guard again in SQL: a concurrent writer (webhook and poll) may have moved ahead.
            where=ins.excluded.source_created >= table.c.source_created,
        )
        session.execute(stmt, rows)
    return len(rows), ties


def _stored_snapshots(
    session: Session, raw_json: bool, ids: list[str]
) -> dict[str, tuple[int, str | None]]:
    if raw_json:
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


GROUP_PAGES = 100
GROUP_WAIT_S = 0.05


def store_pipelined(
    session_factory: Any,
    pages: Iterable[Sequence[Any]],
    *,
    account: str = "",
    source: str = "poll",
    max_group: int = GROUP_PAGES,
    group_wait: float = GROUP_WAIT_S,
    on_commit: Any = None,
) -> IngestResult:
    """Fetch and prepare pages in a helper thread while this thread stores them in groups.

    Pages that arrive within `group_wait` of each other are stored in one transaction (whole
    pages, up to `max_group`): each commit rewrites every index page it touched, and the
    event-id and object-id indexes are touched at random, so a backlog committed a page at a
    time costs about three times what the same pages cost a hundred at a time. A page fetched
    over the network alone is committed `group_wait` after it arrives.

    The helper runs while this thread waits for pages or commits (one long call without the
    GIL), and pauses while rows are inserted: SQLite hands the GIL back on every row, and a busy
    helper turns each hand-back into a wait, which made two threads slower than one.
    `on_commit(session, pages)` runs inside each transaction (the pages it stores, in the order
    given), e.g. to move a cursor with the events it covers.
    """
    import queue
    import threading

    with session_factory() as probe:
        raw_json = probe.get_bind().dialect.name == "sqlite"
    ready: queue.Queue[Any] = queue.Queue(maxsize=max_group)
    done = object()
    failure: list[BaseException] = []
    gate = threading.Event()  # set: the helper may work
    gate.set()
    stopped = threading.Event()  # set: this thread has given up (an error), the helper ends

    def hand_over(item: Any) -> None:
        while not stopped.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for page in pages:
                gate.wait()
                if stopped.is_set():
                    return
                batch = prepare_events(page, account=account, source=source, raw_json=raw_json)
                hand_over((batch, page))
        except BaseException as exc:  # noqa: BLE001 - handed to the storing thread, re-raised there
            failure.append(exc)
        finally:
            hand_over(done)

    worker = threading.Thread(target=produce, name="ingest-prepare", daemon=True)
    worker.start()
    total = IngestResult()
    finished = False
    try:
        while not finished:
            group = [ready.get()]
            while group[-1] is not done and len(group) < max_group:
                try:
                    group.append(ready.get(timeout=group_wait))
                except queue.Empty:
                    break
            if group[-1] is done:
                group.pop()
                finished = True
            if group:
                with session_factory.begin() as session:
                    gate.clear()
                    try:
                        total.add(store_batch(session, merge_batches([b for b, _ in group])))
                        if on_commit is not None:
                            on_commit(session, [p for _, p in group])
                    finally:
                        gate.set()
    except BaseException:
        stopped.set()
        raise
    worker.join()
    if failure:
        raise failure[0]
    return total
