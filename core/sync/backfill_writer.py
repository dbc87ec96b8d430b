"""The backfill's store: one thread writes the pages every fetching worker hands over.

Workers fetch concurrently under the rate limit; each hands its page to this writer and fetches
the next page of its shard meanwhile, waiting for the previous page's commit only before handing
over the next (a shard's stored cursor never runs ahead of what is stored). The writer takes
every page waiting when it is free and stores them in one transaction — the objects (and the objects Stripe expanded inside them) with one
prepared upsert, each shard's cursor with one prepared update — so while one group is written
the workers are already fetching the next pages, and the sync waits on the rate limit, not on
the store. One writer also means no worker queues for the database's write lock.

Each page is still stored with its shard's cursor in the same transaction: an interrupted
backfill resumes exactly where the store stopped. A store that fails (a full disk, a damaged
file) fails every page of that transaction; their workers raise it.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from core.models.base import utcnow
from core.models.sync import BackfillShard
from core.sync.backfill_lists import expanded_objects
from core.sync.snapshots import fetched_rows, store_snapshot_rows

MAX_GROUP_PAGES = 64  # pages per transaction at most (about 6,400 objects at page size 100)

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
    data: list[dict[str, Any]]
    cursor: str | None
    more: bool
    fetched_at: int
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
    ) -> None:
        self.Session = session_factory
        self.account = account
        self.max_group = max(1, max_group)
        self.transactions = 0
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

        A worker keeps at most one page of its shard here (it waits for the previous ticket
        before handing over the next), so a shard's cursor never passes unstored objects."""
        ticket = PageTicket(shard_id, data, cursor, more, fetched_at)
        self._queue.put(ticket)
        return ticket

    def _loop(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True  # store what was handed over before the close, then stop
                    break
                group.append(item)
            try:
                self._write(group)
            except BaseException as exc:  # noqa: BLE001 - raised in every waiting worker
                for ticket in group:
                    ticket._settle(exc)
            else:
                for ticket in group:
                    ticket._settle()

    def _write(self, group: list[PageTicket]) -> None:
        now = utcnow()
        rows: dict[str, dict[str, Any]] = {}
        for ticket in group:  # handed over in fetch order; a later read of an object wins
            fresh = fetched_rows(
                expanded_objects(ticket.data),
                account=self.account,
                fetched_at=ticket.fetched_at,
                now=now,
            )
            for oid, row in fresh.items():
                have = rows.get(oid)
                if have is None or row["source_created"] >= have["source_created"]:
                    rows[oid] = row
        advances = [_advance(t, now) for t in group]
        with self.Session.begin() as session:
            store_snapshot_rows(session, list(rows.values()))
            session.execute(_ADVANCE, advances)
        self.transactions += 1


def _advance(ticket: PageTicket, now: datetime) -> dict[str, Any]:
    return {
        "shard_id": ticket.shard_id,
        "new_cursor": ticket.cursor,
        "added": len(ticket.data),
        "finished": not ticket.more,
        "stamp": now,
    }


def settled(ticket: PageTicket | None) -> None:
    """Wait until the writer committed `ticket` (raise what stopped it)."""
    if ticket is not None:
        ticket.wait()
