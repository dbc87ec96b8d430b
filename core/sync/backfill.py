"""Backfill: list the objects themselves when events cannot tell the story.

Used on first start and when the events cursor falls out of Stripe's 30-day event window. Each
list endpoint is sharded into `created` windows; shards are fetched concurrently under one
token bucket (below the account's rate limit) and each page is stored with the shard's cursor
in one transaction, so an interrupted backfill resumes where it stopped. When a worker runs out
of shards it splits the unexplored part of a running shard in half (work stealing), so the tail
of the run is not one worker paging through a dense window alone. Snapshots read this
way carry their fetch time as `source_created`, so an older event can never overwrite them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import insert_ignore
from core.errors import StripeAuthError, StripeError, StripePermissionError
from core.models.sync import BackfillShard, SyncRun, SyncState
from core.sync.ratelimit import PacedCaller
from core.sync.snapshots import store_fetched

STREAM = "backfill"
# list resource → extra list parameters (subscriptions are listed in every status)
RESOURCES: dict[str, dict[str, Any]] = {
    "customers": {},
    "subscriptions": {"status": "all"},
    "invoices": {},
    "charges": {},
    "payment_intents": {},
    "refunds": {},
    "disputes": {},
    "radar.early_fraud_warnings": {},
    "payouts": {},
    "balance_transactions": {},
}

ListFn = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class _Live:
    """A shard being fetched. Pages come newest first, so what is left is [start, low]."""

    resource: str
    start: int
    end: int
    low: int | None = None  # lowest `created` fetched so far (None before the first page)
    seen: int = 0
    more: bool = True
    storing: bool = False  # between reading `start` for a page and recording its `low`

    def remaining(self) -> float:
        """Estimated objects left, from the density of what was fetched so far."""
        if self.low is None or not self.more or self.storing or self.low - self.start < 2:
            return 0.0
        return self.seen / max(1, self.end - self.low) * (self.low - self.start)


def _created(obj: dict[str, Any], default: int) -> int:
    value = obj.get("created")
    return value if isinstance(value, int) else default


@dataclass
class BackfillReport:
    """What one backfill run did."""

    account: str
    ok: bool = True
    shards: int = 0
    shards_done: int = 0
    objects: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json."""
        return asdict(self)

    def summary(self) -> str:
        """One line for the log."""
        rate = self.requests / self.seconds if self.seconds else 0.0
        return (
            f"{self.account or 'platform'}: backfill {'ok' if self.ok else 'FAILED'} "
            f"objects={self.objects} shards={self.shards_done}/{self.shards} "
            f"requests={self.requests} ({rate:.1f}/s) retries={self.retries}"
            + (f" — {self.error}" if self.error else "")
        )


def needs_backfill(session: Session, account: str) -> bool:
    """True on first start (no events cursor, no finished backfill) or when one was interrupted."""
    back = session.get(SyncState, (account, STREAM))
    if back is not None and back.status == "running":
        return True
    events = session.get(SyncState, (account, "events"))
    has_cursor = events is not None and (events.cursor or events.walk_head)
    return not has_cursor and (back is None or back.status != "done")


def plan(
    session: Session,
    account: str,
    *,
    since: int,
    until: int,
    windows: int,
    resources: dict[str, dict[str, Any]] = RESOURCES,
) -> None:
    """Create the shards of a new backfill, or keep the unfinished plan of an interrupted one."""
    state = session.get(SyncState, (account, STREAM))
    if state is not None and state.status == "running":
        return  # resume: the shards and their cursors are already stored
    if state is None:
        state = SyncState(
            account=account,
            stream=STREAM,
            events_received=0,
            duplicates=0,
            retries=0,
            requests=0,
        )
        session.add(state)
    state.status, state.cursor, state.errors = "running", f"{since}:{until}", 0
    state.last_attempt_at = datetime.now(UTC)
    session.query(BackfillShard).filter(BackfillShard.account == account).delete()
    step = max(1, (until - since + windows - 1) // windows)
    rows = [
        {
            "account": account,
            "resource": resource,
            "window_start": start,
            "window_end": min(until, start + step),
            "cursor": None,
            "done": False,
            "objects": 0,
            "updated_at": datetime.now(UTC),
        }
        for resource in resources
        for start in range(since, until, step)
    ]
    insert_ignore(
        session,
        BackfillShard.__table__,  # type: ignore[arg-type]
        rows,
        ["account", "resource", "window_start", "window_end"],
    )


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
        resources: dict[str, dict[str, Any]] = RESOURCES,
        progress: Callable[[int, int], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.Session = session_factory
        self.caller = caller
        self.list_fn = list_fn
        self.account = account
        self.concurrency = max(1, concurrency)
        self.page_limit = page_limit
        self.resources = resources
        self.progress = progress
        self.clock = clock
        self._lock = threading.Lock()
        self._split_lock = threading.Lock()  # one split at a time: each sees the last one's result
        self._objects = 0
        self._stop = threading.Event()

    def run(self, *, since_days: float = 90.0, windows: int | None = None) -> BackfillReport:
        """Plan (or resume) and fetch every shard; record the outcome in sync_state."""
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
                resources=self.resources,
            )
        with self.Session() as session:
            shards = session.scalars(
                select(BackfillShard).where(BackfillShard.account == self.account)
            ).all()
        pending = deque(s.id for s in shards if not s.done)
        report.shards, done_before = len(shards), len(shards) - len(pending)
        finished = [done_before]
        errors: list[StripeError] = []
        self._live: dict[int, _Live] = {}

        def work(shard_id: int) -> None:
            try:
                self._fetch_shard(shard_id)
            except StripeError as exc:
                errors.append(exc)
                if isinstance(exc, StripeAuthError | StripePermissionError):
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
                work(shard_id)

        threads = [
            threading.Thread(target=worker, name=f"backfill-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report.seconds = time.monotonic() - t0
        report.shards_done = finished[0]
        report.objects = self._objects
        report.requests = self.caller.stats.requests - before[0]
        report.retries = self.caller.stats.retries - before[1]
        report.rate_limited = self.caller.stats.rate_limited - rl_before
        if errors:
            report.ok, report.error = False, str(errors[0])
        self._record(report, started)
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
                half = _Live(live.resource, old_start, mid)
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
            finally:
                with self._lock:
                    self._live.pop(placeholder, None)
            return new_id

    def _fetch_shard(self, shard_id: int) -> None:
        with self.Session() as session:
            shard = session.get(BackfillShard, shard_id)
            assert shard is not None
            resource, cursor = shard.resource, shard.cursor
            fresh = _Live(resource, shard.window_start, shard.window_end)
        with self._lock:
            live = self._live.setdefault(shard_id, fresh)  # a new half is registered already
        extra = self.resources.get(resource, {})
        while not self._stop.is_set():
            with self._lock:
                window = {"gte": live.start, "lt": live.end}
            params: dict[str, Any] = {**extra, "created": window, "limit": self.page_limit}
            if cursor:
                params["starting_after"] = cursor
            page = self.caller.call(self.list_fn, resource, params)
            got = [o for o in page.get("data") or [] if isinstance(o, dict)]
            fetched_at = int(self.clock())
            with self._lock:
                # No split may move `start` until this page is stored and its `low` recorded.
                start, live.storing = live.start, True
            # Objects below a split point belong to the other half, which lists them itself.
            data = [o for o in got if _created(o, start) >= start]
            more = bool(page.get("has_more")) and bool(got) and len(data) == len(got)
            cursor = got[-1].get("id") if got else cursor
            with self.Session.begin() as session:
                store_fetched(session, data, account=self.account, fetched_at=fetched_at)
                shard = session.get(BackfillShard, shard_id)
                assert shard is not None
                shard.cursor, shard.objects = cursor, shard.objects + len(data)
                shard.done, shard.updated_at = not more, datetime.now(UTC)
            with self._lock:
                self._objects += len(data)
                live.seen += len(data)
                live.more, live.storing = more, False
                if data:
                    oldest = _created(data[-1], start)
                    live.low = oldest if live.low is None else min(live.low, oldest)
            if not more:
                return

    def _record(self, report: BackfillReport, started: datetime) -> None:
        with self.Session.begin() as session:
            state = session.get(SyncState, (self.account, STREAM))
            assert state is not None
            state.requests += report.requests
            state.retries += report.retries
            state.errors += int(not report.ok)
            state.events_received += report.objects  # objects, for this stream
            if report.ok and report.shards_done >= report.shards:
                state.status, state.last_error = "done", None
                state.last_success_at = datetime.now(UTC)
            else:
                state.last_error = report.error or "interrupted"
            session.add(
                SyncRun(
                    account=self.account,
                    stream=STREAM,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    ok=report.ok,
                    events_new=report.objects,
                    duplicates=0,
                    requests=report.requests,
                    retries=report.retries,
                    lag_seconds=None,
                    error=report.error,
                )
            )
