"""The backfill's store: one thread writes the pages every fetching worker hands over.

Workers fetch concurrently under the rate limit; each turns its page into snapshot rows (the
objects, and the objects Stripe expanded inside them, encoded once) in its own thread, hands
them to this writer and fetches the next page meanwhile. A worker may have up to
`PIPELINE_PAGES` pages handed over and not yet committed — of its shard, or of shards it has
finished — and waits for the oldest only beyond that (and once at the end), so a writer that
falls behind for a moment (a large group, a CPU shared with other work) stalls no fetching.
The writer takes every page waiting (gathering for `GATHER_SECONDS` after the first) and
stores them in one transaction — the rows with one prepared upsert, each shard's cursor with
one prepared update — so the sync waits on the rate limit, not on the store. One writer also
means no worker queues for the database's write lock.

A shard's stored cursor never runs past objects that are not stored: each page is stored with
its shard's cursor in the same transaction, the writer commits the pages of a shard in the
order they were handed over (one queue, one thread), and once a page of a shard failed to
store (a full disk, a damaged file) no later page of that shard is written — every such page
fails with the same error, and its worker raises it. An interrupted backfill resumes exactly
where the store stopped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from core.models.base import utcnow
from core.models.sync import BackfillShard
from core.sync.backfill_lists import expanded_objects
from core.sync.ingest_sqlite import prepare_connection
from core.sync.snapshots import fetched_rows, store_snapshot_rows

MAX_GROUP_PAGES = 64  # pages per transaction at most (about 6,400 objects at page size 100)
# How long a transaction waits for more pages after its first: each commit writes every index
# page it touched (32 KB each), so a few large transactions cost far less than many small ones.
GATHER_SECONDS = 0.05
PIPELINE_PAGES = 4  # pages one worker has handed over and not yet seen committed, at most

_SHARDS: Table = BackfillShard.__table__  # type: ignore[assignment]
_ADVANCE = (
    update(_SHARDS)
    .where(_SHARDS.c.id == bindparam("shard_id"))
    .values(
        cursor=bindparam("new_cursor"),
        objects=_SHARDS.c.objects + bindparam("added"),
        done=bindparam("finished"),
        updated_at=bindparam("stamp"),
    )
)


@dataclass
class PageTicket:
    """One fetched page waiting to be stored; `wait()` returns once it is committed."""

    shard_id: int
    rows: dict[str, dict[str, Any]]  # snapshot rows by id (fetched_rows), ready to upsert
    added: int  # the page's own objects (the shard's count)
    cursor: str | None
    more: bool
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _error: BaseException | None = field(default=None, repr=False)

    def wait(self) -> None:
        """Block until the page is stored; raise what stopped the store, if anything did."""
        self._done.wait()
        if self._error is not None:
            raise self._error

    def _settle(self, error: BaseException | None = None) -> None:
        self._error = error
        self._done.set()


class PageWriter:
    """A single thread storing handed-over pages, every page waiting when it is free in one
    transaction (up to `max_group`)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        account: str,
        max_group: int = MAX_GROUP_PAGES,
        gather: float = GATHER_SECONDS,
    ) -> None:
        self.Session = session_factory
        self.account = account
        self.max_group = max(1, max_group)
        self.gather = max(0.0, gather)
        self.transactions = 0
        self._failed: dict[int, BaseException] = {}  # shard → what stopped one of its pages
        self._queue: queue.SimpleQueue[PageTicket | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="backfill-store", daemon=True)

    def __enter__(self) -> PageWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()

    def submit(
        self,
        shard_id: int,
        data: list[dict[str, Any]],
        *,
        cursor: str | None,
        more: bool,
        fetched_at: int,
    ) -> PageTicket:
        """Hand a page over, to be committed with its shard's cursor; `wait()` on the ticket.

        The rows are prepared here, in the caller's thread: the writer's thread only writes.
        Pages of one shard are committed in the order they are handed over."""
        rows = fetched_rows(
            expanded_objects(data), account=self.account, fetched_at=fetched_at, now=utcnow()
        )
        ticket = PageTicket(shard_id, rows, len(data), cursor, more)
        self._queue.put(ticket)
        return ticket

    def _loop(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            until = time.monotonic() + self.gather
            while len(group) < self.max_group:
                try:
                    item = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    closing = True  # store what was handed over before the close, then stop
                    break
                group.append(item)
            # A shard whose earlier page failed to store writes nothing more: its cursor would
            # pass the objects of that page.
            refused = [t for t in group if t.shard_id in self._failed]
            for ticket in refused:
                ticket._settle(self._failed[ticket.shard_id])
            group = [t for t in group if t.shard_id not in self._failed]
            if not group:
                continue
            try:
                self._write(group)
            except BaseException as exc:  # noqa: BLE001 - raised in every waiting worker
                for ticket in group:
                    self._failed.setdefault(ticket.shard_id, exc)
                    ticket._settle(exc)
            else:
                for ticket in group:
                    ticket._settle()

    def _write(self, group: list[PageTicket]) -> None:
        now = utcnow()
        rows: dict[str, dict[str, Any]] = {}
        for ticket in group:  # handed over in fetch order; a later read of an object wins
            for oid, row in ticket.rows.items():
                have = rows.get(oid)
                if have is None or row["source_created"] >= have["source_created"]:
                    rows[oid] = row
        advances = [_advance(t, now) for t in group]
        with self.Session.begin() as session:
            if session.get_bind().dialect.name == "sqlite":
                # A page cache that holds the id index as it grows (2 MB by default): about a
                # fifth less CPU a row once the table is larger than the default cache.
                prepare_connection(session)
            store_snapshot_rows(session, list(rows.values()))
            session.execute(_ADVANCE, advances)
        self.transactions += 1


def _advance(ticket: PageTicket, now: datetime) -> dict[str, Any]:
    return {
        "shard_id": ticket.shard_id,
        "new_cursor": ticket.cursor,
        "added": ticket.added,
        "finished": not ticket.more,
        "stamp": now,
    }


class Handover:
    """The pages one worker has handed over and not yet seen committed, whatever their shards
    (the writer commits in the order pages are handed over)."""

    def __init__(self, writer: PageWriter, depth: int = PIPELINE_PAGES) -> None:
        self.writer = writer
        self.depth = max(1, depth)
        self._tickets: deque[PageTicket] = deque()

    def hand_over(
        self,
        shard_id: int,
        data: list[dict[str, Any]],
        *,
        cursor: str | None,
        more: bool,
        fetched_at: int,
    ) -> None:
        """Hand the next page over; first wait for the oldest one when `depth` are waiting."""
        while len(self._tickets) >= self.depth:
            self._tickets.popleft().wait()
        self._tickets.append(
            self.writer.submit(shard_id, data, cursor=cursor, more=more, fetched_at=fetched_at)
        )

    def drain(self) -> None:
        """Wait until every page handed over is committed (raise what stopped one, if any)."""
        while self._tickets:
            self._tickets.popleft().wait()
