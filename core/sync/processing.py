"""The processing queue: events are handled after ingestion by handlers registered per type.

Handlers are `def handler(session, event: EventContext) -> None`, registered with
`@handles("invoice.payment_failed", ...)` in the modules listed in core/handlers.py. Each event
runs in its own savepoint: success marks it processed; a failure rolls back only that event's
work, counts an attempt and schedules a retry with backoff; after `max_attempts` it is `dead`
(visible on the health page, re-playable with `python -m jobs process --replay`). Other events
keep flowing. An event waiting for an object the sync fetches (MissingObject) is retried longer
and is dead only once the sync has fetched the object without Stripe returning it (or after
waiting a bounded time on a sync that never fetched it), with that reason.

Set-based where it can be (the registration side is core/sync/handling.py):
* the claim locks the due rows without their payloads; the payloads of the events a handler
  wants are read in one query, as text, and decoded (orjson) only when a handler reads them;
* a handler may name a `prepare(session, contexts, batch)` loader that, once per batch, reads
  in bulk what its events will look up (into `batch`, shared as `EventContext.batch`), and a
  `relevant(session, contexts)` pre-filter returning the ids of the events it has work for
  (e.g. payments of invoices that have a recovery case); the others skip it. A loader may also
  name events that fail as their handler would (FAILS_EARLY): they take no savepoint either;
* events left without a handler take no savepoint: they, and every handled event that
  succeeded, are marked processed by one statement at the end of the batch; failed attempts
  are written by one executemany, and the objects they wait for requested in one insert.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import String, Table, and_, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.errors import MissingObject
from core.models.sync import Event
from core.sync.handling import (
    BATCH_INFO,
    FAILS_EARLY,
    HANDLERS,
    PREPARE,
    RELEVANCE,
    WHEN_KEPT,
    BatchPayloads,
    EventContext,
    Handler,
    Prepare,
    Relevance,
    batch_of,
    context_of,
    handlers_for,
    handles,
    ids_in,
    load_handler_modules,
    on_postgresql,
    when_kept,
)
from core.sync.waiting import (
    MISSING_OBJECT_ATTEMPTS,
    WAITING_FOR_SYNC_ATTEMPTS,
    NeverArrived,
    request_refresh,
    waiting_failure,
)

__all__ = [
    "BATCH_INFO",
    "FAILS_EARLY",
    "HANDLERS",
    "MISSING_OBJECT_ATTEMPTS",
    "WAITING_FOR_SYNC_ATTEMPTS",
    "PREPARE",
    "RELEVANCE",
    "WHEN_KEPT",
    "EventContext",
    "EventStatus",
    "Handler",
    "Prepare",
    "ProcessReport",
    "Relevance",
    "batch_of",
    "context_of",
    "handlers_for",
    "handles",
    "load_handler_modules",
    "process_batch",
    "replay",
    "retry_delay",
    "when_kept",
]

log = logging.getLogger("ledgerdesk.processing")

MAX_ATTEMPTS = 5
BASE_DELAY_SECONDS = 10.0
MAX_DELAY_SECONDS = 3600.0


class EventStatus(StrEnum):
    """Where an event is in the queue."""

    PENDING = "pending"
    FAILED = "failed"  # will be retried at next_attempt_at
    PROCESSED = "processed"
    DEAD = "dead"


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Backoff before attempt `attempts + 1`: exponential, capped, with jitter."""
    base = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** max(0, attempts - 1))
    return base * (0.5 + (rng or random).random() / 2)


@dataclass
class ProcessReport:
    """What one batch did."""

    claimed: int = 0
    processed: int = 0
    retrying: int = 0
    dead: int = 0

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"processed={self.processed} retrying={self.retrying} dead={self.dead} "
            f"of {self.claimed}"
        )


# No payload: only the events a handler wants have theirs read (see _payloads). Table columns,
# not ORM attributes: the rows come back as plain rows, without the ORM's loading per row.
_EVENTS = cast(Table, Event.__table__).c
_CLAIM_COLUMNS = (
    _EVENTS.id,
    _EVENTS.event_id,
    _EVENTS.type,
    _EVENTS.created,
    _EVENTS.account,
    _EVENTS.api_version,
    _EVENTS.attempts,
    _EVENTS.object_id,
)


def _claim(session: Session, limit: int, now: datetime) -> list[Any]:
    """Due events, oldest first: the first `limit` pending and failed-and-due ones, merged.

    Two queries instead of one OR: each walks an index in (created, id) order and stops at
    `limit`, where the OR had to sort every pending event on each batch.

    Several workers may share one PostgreSQL: the rows are locked `FOR UPDATE SKIP LOCKED`
    until the batch commits, so each worker takes events no other one holds, without waiting
    (a worker that dies releases its rows with its connection). An event whose object has an
    earlier due event this batch did not get (another worker holds it) is left for a later
    batch, so one object's events are still handled in order. On SQLite the single writer
    (BEGIN IMMEDIATE) serialises batches and the lock clause is not emitted.
    """
    order = (_EVENTS.created, _EVENTS.id)

    def due(*where: Any) -> list[Any]:
        return list(
            session.execute(
                select(*_CLAIM_COLUMNS)
                .where(*where)
                .order_by(*order)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
        )

    pending = due(_EVENTS.status == EventStatus.PENDING)
    failed = due(_EVENTS.status == EventStatus.FAILED, _EVENTS.next_attempt_at <= now)
    rows = sorted([*pending, *failed], key=lambda r: (r.created, r.id))[:limit]
    if not rows or session.get_bind().dialect.name != "postgresql":
        return rows
    return _in_object_order(session, rows, now)


# PostgreSQL only: the objects as one array parameter (`= ANY`), not one bind per object, so the
# statement's text is the same each batch and psycopg has no long query to build and split.
_HELD = select(_EVENTS.object_id, _EVENTS.created, _EVENTS.id).where(
    _EVENTS.object_id == any_(bindparam("objects", type_=ARRAY(String))),
    or_(
        _EVENTS.status == EventStatus.PENDING,
        and_(_EVENTS.status == EventStatus.FAILED, _EVENTS.next_attempt_at <= bindparam("now")),
    ),
)


def _in_object_order(session: Session, rows: list[Any], now: datetime) -> list[Any]:
    """`rows` without those whose object has an earlier due event held by another worker."""
    objects = {r.object_id for r in rows if r.object_id}
    if not objects:
        return rows
    mine = {r.id for r in rows}
    held = session.execute(_HELD, {"objects": sorted(objects), "now": now}).all()
    first: dict[str, tuple[int, int]] = {}
    for h in held:
        if h.id in mine:
            continue
        first[h.object_id] = min(first.get(h.object_id, (h.created, h.id)), (h.created, h.id))
    return [r for r in rows if r.object_id not in first or (r.created, r.id) < first[r.object_id]]


def process_batch(
    session_factory: sessionmaker[Session],
    limit: int = 500,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> ProcessReport:
    """Process due events (pending, or failed and due) oldest first.

    Each event with work for a handler runs in its own savepoint; the others take none. Every
    event that succeeded (or needed nothing) is marked processed in one statement at the end,
    the failed ones in another.
    """
    now = now or datetime.now(UTC)
    report = ProcessReport()
    with session_factory.begin() as session:
        rows = _claim(session, limit, now)
        report.claimed = len(rows)
        shared: dict[str, Any] = {}
        session.info[BATCH_INFO] = shared
        try:
            done = _run(session, _plan(session, rows, settings, shared), max_attempts, now, report)
        finally:
            session.info.pop(BATCH_INFO, None)
        _mark_processed(session, done, now)
        report.processed += len(done)
    return report


def _run(
    session: Session,
    plan: list[tuple[Any, EventContext | None, list[Handler]]],
    max_attempts: int,
    now: datetime,
    report: ProcessReport,
) -> list[int]:
    """Run the planned events, each with work in its own savepoint; record the failures.
    Returns the ids of the events to mark processed."""
    done: list[int] = []
    failures: list[tuple[Any, Exception, int]] = []
    missing: dict[str, tuple[str, str, str]] = {}
    waiting: list[tuple[Any, MissingObject]] = []
    kept: list[Any] = []
    for row, ctx, handlers in plan:
        early = ctx.batch.get(FAILS_EARLY, {}).get(ctx.event_id) if ctx else None
        if ctx is None or (early is None and not handlers):
            done.append(row.id)
            continue
        kept.clear()
        ctx.batch[WHEN_KEPT] = kept
        try:
            if early is not None:
                raise early  # as its handler would have, without a savepoint
            with session.begin_nested():
                for fn in handlers:
                    fn(session, ctx)
        except MissingObject as exc:
            session.expunge_all()
            missing.setdefault(exc.object_id, (exc.object_id, row.account or "", exc.object_type))
            waiting.append((row, exc))
            continue
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead
            session.expunge_all()
            failures.append((row, exc, max_attempts))
            continue
        # Each event starts from an empty identity map: what earlier events loaded would
        # otherwise be snapshotted by every later savepoint (cost growing with the batch).
        session.expunge_all()
        for fn in kept:
            fn()
        done.append(row.id)
    if missing:
        # Outside the rolled-back savepoints: the sync's next poll fetches the objects.
        queued = request_refresh(session, list(missing.values()), now)
        for row, missed in waiting:
            failures.append(waiting_failure(row, missed, sync_tried=missed.object_id not in queued))
    _record_failures(session, failures, now, report)
    return done


def _plan(
    session: Session, rows: list[Any], settings: Settings | None, shared: dict[str, Any]
) -> list[tuple[Any, EventContext | None, list[Handler]]]:
    """Each claimed row with its context (sharing `shared` as its batch) and the handlers that
    have work for it."""
    typed = {etype: handlers_for(etype) for etype in {row.type for row in rows}}
    payloads = BatchPayloads(session, [row for row in rows if typed[row.type]], typed)
    plan: list[tuple[Any, EventContext | None, list[Handler]]] = []
    for row in rows:
        handlers = typed[row.type]
        ctx = context_of(row, settings, shared, fetch=payloads.reader(row)) if handlers else None
        plan.append((row, ctx, handlers))
    present = {fn for handlers in typed.values() for fn in handlers}
    if not present & (RELEVANCE.keys() | PREPARE.keys()):
        return plan
    batch = [ctx for _, ctx, _ in plan if ctx is not None]
    for prepare in dict.fromkeys(PREPARE[fn] for fn in present if fn in PREPARE):
        prepare(session, batch, shared)
    wanted = {fn: RELEVANCE[fn](session, batch) for fn in present if fn in RELEVANCE}
    plan = [
        (
            row,
            ctx,
            [fn for fn in handlers if fn not in wanted or (ctx and ctx.event_id in wanted[fn])],
        )
        for row, ctx, handlers in plan
    ]
    payloads.only({row.id for row, _, handlers in plan if handlers})
    return plan


EVENTS = cast(Table, Event.__table__)
_MARK_PROCESSED = {
    pg: update(EVENTS)
    .where(ids_in(EVENTS.c.id, pg))
    .values(status=EventStatus.PROCESSED, processed_at=bindparam("at"), next_attempt_at=None)
    for pg in (False, True)
}
_CHUNK = 1000  # ids per statement (well under SQLite's and psycopg's parameter limits)


_MARK_FAILED = (
    update(EVENTS)
    .where(EVENTS.c.id == bindparam("eid"))
    .values(
        status=bindparam("st"),
        attempts=bindparam("n"),
        last_error=bindparam("err"),
        next_attempt_at=bindparam("retry_at"),
    )
)


def _mark_processed(session: Session, ids: list[int], now: datetime) -> None:
    """Mark events processed in one statement (per 1,000)."""
    stmt = _MARK_PROCESSED[on_postgresql(session)]
    for i in range(0, len(ids), _CHUNK):
        session.execute(stmt, {"ids": ids[i : i + _CHUNK], "at": now})


def _record_failures(
    session: Session,
    failures: list[tuple[Any, Exception, int]],
    now: datetime,
    report: ProcessReport,
) -> None:
    """Count each failed attempt (one executemany): a retry with backoff, or the event dead."""
    if not failures:
        return
    params = []
    for row, exc, max_attempts in failures:
        attempts = int(row.attempts or 0) + 1
        name = "MissingObject" if isinstance(exc, NeverArrived) else type(exc).__name__
        values: dict[str, Any] = {
            "eid": row.id,
            "n": attempts,
            "err": f"{name}: {exc}"[:4000],
        }
        if attempts >= max_attempts:
            if isinstance(exc, NeverArrived):
                values["err"] = exc.dead_reason(attempts)[:4000]
            values |= {"st": EventStatus.DEAD, "retry_at": None}
            report.dead += 1
            log.warning("event %s dead after %d attempts: %s", row.event_id, attempts, exc)
        else:
            values |= {
                "st": EventStatus.FAILED,
                "retry_at": now + timedelta(seconds=retry_delay(attempts)),
            }
            report.retrying += 1
        params.append(values)
    session.execute(_MARK_FAILED, params)


def replay(session: Session, *, event_id: str | None = None, all_dead: bool = False) -> int:
    """Put dead (or failed) events back in the queue; return how many."""
    stmt = update(Event).values(status=EventStatus.PENDING, attempts=0, next_attempt_at=None)
    if event_id is not None:
        stmt = stmt.where(Event.event_id == event_id)
    elif all_dead:
        stmt = stmt.where(Event.status == EventStatus.DEAD)
    else:
        return 0
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)
