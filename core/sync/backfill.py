"""Backfill: list the objects themselves when events cannot tell the story.

Used on first start and when the events cursor falls out of Stripe's 30-day event window. Two
kinds of lists make a complete first load:

- **live objects whatever their age** (customers with their default card, subscriptions in
  every status with theirs, open and uncollectible invoices, disputes with their charges,
  payouts still on their way): listed whole, without a `created` filter, so a customer who
  signed up three years ago is there on the first day;
- **the recent past** (invoices, charges, payment intents, refunds, early fraud warnings,
  payouts and balance transactions of the last `since` days): sharded into `created` windows.

Shards are fetched concurrently under one token bucket (below the account's rate limit), whole
lists first (each is one chain of pages, so the longest bounds the run); windows never queue for
the rate ahead of them. Pages go to one writer (core/sync/backfill_writer.py), which stores each
with its shard's cursor, many pages per transaction, while the workers fetch on; an interrupted
backfill resumes where the store stopped. When a worker runs out of shards it splits the
unexplored part of a running windowed shard in half (work stealing), so the tail of the run is
not one worker paging through a dense window alone. Snapshots read this way carry their fetch
time as `source_created`, so an older event can never overwrite them; objects Stripe expanded
inside another (a customer's default card, a dispute's charge) are stored as snapshots of their
own. Plans and outcomes are kept in sync_state (core/sync/backfill_plan.py).

A server that refuses a parameter (400) is not asked again: the page is fetched without the
optional parameter it refused (`expand`, then `status`, then the `created` window), and what it
refused is recorded for the health page. A list the server does not have (404) is skipped and
recorded the same way. A shard that still fails after its retries leaves the backfill `partial`:
it is retried after a back-off, not on every sync pass.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StripeAuthError, StripeError, StripePermissionError, StripeRequestError
from core.models.sync import BackfillShard
from core.sync.backfill_lists import LISTS, OPTIONAL_PARAMS, ListSpec
from core.sync.backfill_plan import (
    STREAM,
    BackfillReport,
    LiveShard,
    created_of,
    needs_backfill,
    plan,
    record,
)
from core.sync.backfill_writer import Handover, PageWriter
from core.sync.ratelimit import PacedCaller

__all__ = ["STREAM", "Backfill", "BackfillReport", "needs_backfill", "plan"]

ListFn = Callable[[str, dict[str, Any]], dict[str, Any]]


class Backfill:
    """Runs the pending shards of one account's backfill concurrently."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        caller: PacedCaller,
        list_fn: ListFn,
        *,
        account: str = "",
        concurrency: int = 8,
        page_limit: int = 100,
        lists: dict[str, ListSpec] = LISTS,
        progress: Callable[[int, int], None] | None = None,
        clock: Callable[[], float] = time.time,
        beside: Callable[[], bool] | None = None,
    ) -> None:
        self.Session = session_factory
        self.caller = caller
        self.list_fn = list_fn
        self.account = account
        self.concurrency = max(1, concurrency)
        self.page_limit = page_limit
        self.lists = lists
        self._refused: dict[str, set[str]] = {}  # list name → optional params the server refused
        self._unsupported: list[str] = []
        self._unwindowed: dict[str, int] = {}  # list name → the shard that lists it whole
        self.progress = progress
        self.clock = clock
        self._lock = threading.Lock()
        self._split_lock = threading.Lock()  # one split at a time: each sees the last one's result
        self._objects = 0
        self._chains = 0  # whole lists being walked (no window to split)
        # True while another chain of pages shares the rate limit (the event walk of a first
        # start): windows then never queue ahead of it either.
        self.beside = beside or (lambda: False)
        self._stop = threading.Event()

    def run(
        self,
        *,
        since_days: float = 90.0,
        windows: int | None = None,
        on_planned: Callable[[], None] | None = None,
    ) -> BackfillReport:
        """Plan (or resume) and fetch every shard; record the outcome in sync_state.

        `on_planned` runs once the plan is stored (the backfill is `running`: an interruption
        from then on resumes it), before the first request."""
        report = BackfillReport(account=self.account)
        started = datetime.now(UTC)
        t0 = time.monotonic()
        before = (self.caller.stats.requests, self.caller.stats.retries)
        rl_before = self.caller.stats.rate_limited
        until = int(self.clock()) + 1
        with self.Session.begin() as session:
            plan(
                session,
                self.account,
                since=until - int(since_days * 86400),
                until=until,
                windows=windows or max(2, self.concurrency),
                lists=self.lists,
            )
        if on_planned is not None:
            on_planned()
        with self.Session() as session:
            shards = session.scalars(
                select(BackfillShard).where(BackfillShard.account == self.account)
            ).all()
        # Where each shard starts, read once: a worker starting a shard asks no database (on
        # SQLite, every transaction waits its turn behind the writer's).
        self._plans: dict[int, tuple[str, int, int, str | None]] = {
            s.id: (s.resource, s.window_start, s.window_end, s.cursor) for s in shards
        }
        # Whole lists first: each is walked one page after the other, so the longest of them
        # bounds the backfill unless it starts at once; windows fill the rate around them.
        order = {name: n for n, name in enumerate(self.lists)}
        pending = deque(
            s.id
            for s in sorted(
                shards,
                key=lambda s: (
                    self.lists.get(s.resource, ListSpec(s.resource)).windowed,
                    order.get(s.resource, len(order)),
                    s.window_start,
                    s.id,
                ),
            )
            if not s.done
        )
        report.shards, done_before = len(shards), len(shards) - len(pending)
        finished = [done_before]
        errors: list[StripeError] = []
        crashed: list[Exception] = []
        self._live: dict[int, LiveShard] = {}

        def work(shard_id: int, handed: Handover) -> None:
            try:
                self._fetch_shard(shard_id, handed)
            except StripeError as exc:
                errors.append(exc)
                if isinstance(exc, StripeAuthError | StripePermissionError):
                    self._stop.set()
                else:
                    self._fail_shard(shard_id, exc)
                return
            except Exception as exc:  # noqa: BLE001 - re-raised once, below, after every worker
                # The store failed (disk full, a damaged file...) or a bug: every worker stops,
                # and the first error is raised once from run() instead of once per thread.
                crashed.append(exc)
                self._stop.set()
                return
            finally:
                with self._lock:
                    self._live.pop(shard_id, None)
            with self._lock:
                finished[0] += 1
                if self.progress:
                    self.progress(finished[0], report.shards)

        def worker() -> None:
            handed = Handover(self._writer)  # this worker's pages not yet committed
            while not self._stop.is_set():
                with self._lock:
                    shard_id = pending.popleft() if pending else None
                    idle = shard_id is None and not self._live
                if idle:
                    return  # nothing queued, nothing running: the backfill is complete
                if shard_id is None:
                    shard_id = self._split()
                    if shard_id is None:
                        time.sleep(0.02)  # running shards may become splittable after a page
                        continue
                    with self._lock:
                        report.shards += 1
                work(shard_id, handed)
            try:
                handed.drain()
            except Exception as exc:  # noqa: BLE001 - re-raised once, below, like a crash
                crashed.append(exc)
                self._stop.set()

        threads = [
            threading.Thread(target=worker, name=f"backfill-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        with PageWriter(self.Session, account=self.account) as self._writer:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if crashed:
            raise crashed[0]  # what was stored stands; the shards resume on the next run
        report.seconds = time.monotonic() - t0
        report.shards_done = finished[0]
        report.objects = self._objects
        report.requests = self.caller.stats.requests - before[0]
        report.retries = self.caller.stats.retries - before[1]
        report.rate_limited = self.caller.stats.rate_limited - rl_before
        if errors:
            report.ok, report.error = False, str(errors[0])
        report.unsupported = list(self._unsupported)
        record(self.Session, report, started, stopped=self._stop.is_set())
        return report

    def _split(self) -> int | None:
        """Split the running shard with the most work left; return the new shard's id."""
        with self._split_lock:
            with self._lock:
                candidates = [(live.remaining(), sid) for sid, live in self._live.items()]
                best = max(candidates, default=(0.0, 0))
                if best[0] < self.page_limit:
                    return None  # less than a page left anywhere: splitting only adds requests
                live = self._live[best[1]]
                old_start, mid = live.start, (live.start + live.low + 1) // 2  # type: ignore[operator]
                # From now on the running shard keeps [mid, end); its pages below mid are dropped.
                live.start = mid
                half = LiveShard(live.resource, old_start, mid)
                placeholder = -1 - best[1]
                self._live[placeholder] = half  # the backfill is not idle meanwhile
            try:
                # One transaction: an interruption leaves either the old window or both halves.
                with self.Session.begin() as session:
                    shard = session.get(BackfillShard, best[1])
                    assert shard is not None
                    shard.window_start = mid
                    new = BackfillShard(
                        account=self.account,
                        resource=half.resource,
                        window_start=old_start,
                        window_end=mid,
                        cursor=None,
                        done=False,
                        objects=0,
                        updated_at=datetime.now(UTC),
                    )
                    session.add(new)
                    session.flush()
                    new_id = new.id
                with self._lock:
                    self._live[new_id] = half  # registered before the placeholder goes
                    self._plans[new_id] = (half.resource, old_start, mid, None)
            finally:
                with self._lock:
                    self._live.pop(placeholder, None)
            return new_id

    def _fetch_shard(self, shard_id: int, handed: Handover) -> None:
        with self._lock:
            name, window_start, window_end, cursor = self._plans[shard_id]
            spec = self.lists.get(name, ListSpec(name))
            fresh = LiveShard(name, window_start, window_end, windowed=spec.windowed)
            live = self._live.setdefault(shard_id, fresh)  # a new half is registered already
            owner = self._unwindowed.get(name)
            if owner is not None and owner != shard_id:
                live.more = False  # another shard lists this whole list already
        if owner is not None and owner != shard_id:
            self._finish_shard(shard_id, cursor)
            return
        chain = not live.windowed
        if chain:
            with self._lock:
                self._chains += 1
        try:
            self._walk_shard(shard_id, name, spec, live, cursor, handed)
        finally:
            if chain:
                with self._lock:
                    self._chains -= 1

    def _walk_shard(
        self,
        shard_id: int,
        name: str,
        spec: ListSpec,
        live: LiveShard,
        cursor: str | None,
        handed: Handover,
    ) -> None:
        """Page through one shard, each page handed to the writer as the next is fetched; the
        last ones may still be stored while the worker walks its next shard."""
        while not self._stop.is_set():
            params = self._params(name, spec, live, shard_id)
            if cursor:
                params["starting_after"] = cursor
            try:
                page = self._request(live, spec.resource, params)
            except StripeRequestError as exc:
                if self._refuse(name, params, exc, shard_id):
                    continue  # the same page again, without the parameter refused
                handed.drain()  # its cursor is stored before the shard is finished
                self._finish_shard(shard_id, cursor)
                return
            got = [o for o in page.get("data") or [] if isinstance(o, dict)]
            fetched_at = int(self.clock())
            with self._lock:
                # One critical section from reading `start` to recording `low`: a split
                # never moves `start` past objects this page keeps.
                start = live.start
                # Objects below a split point belong to the other half, which lists them.
                data = [o for o in got if created_of(o, start) >= start] if live.windowed else got
                more = bool(page.get("has_more")) and bool(got) and len(data) == len(got)
                self._objects += len(data)
                live.seen += len(data)
                live.more = more
                if data:
                    oldest = created_of(data[-1], start)
                    live.low = oldest if live.low is None else min(live.low, oldest)
            cursor = got[-1].get("id") if got else cursor
            # Stored with the shard's cursor in one transaction, beside other workers'
            # pages, after this shard's earlier pages, while this worker fetches the next.
            handed.hand_over(shard_id, data, cursor=cursor, more=more, fetched_at=fetched_at)
            if not more:
                return

    def _request(self, live: LiveShard, resource: str, params: dict[str, Any]) -> dict[str, Any]:
        """One page through the paced caller. While a whole list or the event walk is walked
        (one page after the other, its length the first start's critical path), pages of
        windows — which idle workers can split — do not queue for the rate limit ahead of it."""
        if live.windowed and (self._chains or self.beside()):
            return self.caller.call_unqueued(self.list_fn, resource, params)
        return self.caller.call(self.list_fn, resource, params)

    def _params(self, name: str, spec: ListSpec, live: LiveShard, shard_id: int) -> dict[str, Any]:
        """The page's parameters, less what the server refused for this list."""
        with self._lock:
            refused = set(self._refused.get(name, ()))
            whole = not live.windowed or self._unwindowed.get(name) == shard_id
            window = {"gte": live.start, "lt": live.end}
        params: dict[str, Any] = {k: v for k, v in spec.params.items() if k not in refused} | {
            "limit": self.page_limit
        }
        if not whole:
            params["created"] = window
        return params

    def _refuse(
        self, name: str, params: dict[str, Any], exc: StripeRequestError, shard_id: int
    ) -> bool:
        """The server refused a page (400/404): drop the next optional parameter and say so.

        True: ask again without it. False: this shard is done — another shard lists the whole
        list now, or nothing is left to drop (the server does not have this list)."""
        if exc.http_status == 400:
            for param in OPTIONAL_PARAMS:
                if param not in params:
                    continue
                with self._lock:
                    first = param not in self._refused.setdefault(name, set())
                    self._refused[name].add(param)
                    if first:
                        self._unsupported.append(f"{name}: the server refused `{param}` ({exc})")
                    if param == "created":
                        # One shard lists the whole list instead; the other windows are covered.
                        if self._unwindowed.setdefault(name, shard_id) != shard_id:
                            return False
                        self._live[shard_id].windowed = False
                        self._live[shard_id].start = 0
                return True
        with self._lock:
            note = f"{name}: not available on this server ({exc})"
            if note not in self._unsupported:
                self._unsupported.append(note)
        return False

    def _finish_shard(self, shard_id: int, cursor: str | None) -> None:
        """Mark a shard done without (more) pages: covered by another shard, or not supported."""
        with self.Session.begin() as session:
            shard = session.get(BackfillShard, shard_id)
            assert shard is not None
            shard.cursor, shard.done, shard.updated_at = cursor, True, datetime.now(UTC)

    def _fail_shard(self, shard_id: int, exc: StripeError) -> None:
        """A shard that still failed after its retries: kept for the next (backed-off) run."""
        with self.Session.begin() as session:
            shard = session.get(BackfillShard, shard_id)
            if shard is not None:
                shard.error, shard.updated_at = str(exc)[:2000], datetime.now(UTC)
