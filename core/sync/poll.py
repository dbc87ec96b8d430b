"""Incremental sync of one account's Stripe events into the store.

Algorithm (docs/DESIGN.md, "Sync algorithm"):
- First start: walk the 30-day event window newest → oldest (`starting_after`), remembering the
  head and how far the walk got in `sync_state`, so an interrupted walk resumes; then the head
  becomes the cursor.
- Then forward: `ending_before=<cursor>` returns the page just newer than the cursor; each page
  (or group of pages already fetched) is stored in one transaction together with the new cursor.
  An idle poll is exactly one request.
- Every `sweep_interval` seconds an overlap sweep lists `created[gte]=last_created - margin`,
  catching events that appeared late or share a second; dedupe makes it free.
- Ambiguous snapshots (same-second events) are re-read from Stripe after the pages.
- Authentication / permission errors stop the account (shown on the health page); other errors
  are retried by the PacedCaller and, if they persist, recorded as this run's failure.
- A server that refuses `ending_before` (400: some Stripe-compatible fakes) is not asked again:
  each poll then walks the listable events with `starting_after` alone and dedupe keeps what is
  new; one that refuses `created` gets no overlap sweep. Both are recorded for the health page.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.errors import StripeAuthError, StripeError, StripePermissionError, StripeRequestError
from core.models.sync import SyncRun, SyncState
from core.sync.ingest import IngestResult
from core.sync.ingest_pipeline import store_pipelined
from core.sync.ratelimit import PacedCaller
from core.sync.snapshots import refresh_requested

EVENT_WINDOW_SECONDS = 30 * 86400
STREAM = "events"
PAGE_LIMIT = 100

REFUSED_ENDING_BEFORE = "events: the server refuses `ending_before`; every poll walks the list"
REFUSED_CREATED = "events: the server refuses `created`; no overlap sweep"

ListFn = Callable[[str, dict[str, Any]], dict[str, Any]]
FetchFn = Callable[[str, str], dict[str, Any]]


@dataclass
class SyncReport:
    """What one sync run of one account did."""

    account: str
    ok: bool = True
    stopped: bool = False
    skipped: bool = False
    needs_backfill: bool = False
    walked: bool = False
    swept: bool = False
    events_new: int = 0
    duplicates: int = 0
    dead: int = 0
    requests: int = 0
    retries: int = 0
    errors: int = 0
    refreshed: int = 0
    lag_seconds: float | None = None
    cursor: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json."""
        return asdict(self)

    def summary(self) -> str:
        """One line for the log."""
        who = self.account or "platform"
        if self.skipped:
            return f"{who}: stopped earlier ({self.error}); fix the key and run sync again"
        state = "ok" if self.ok else ("STOPPED" if self.stopped else "FAILED")
        lag = "n/a" if self.lag_seconds is None else f"{self.lag_seconds:.0f}s"
        text = (
            f"{who}: {state} new={self.events_new} duplicates={self.duplicates} "
            f"dead={self.dead} requests={self.requests} retries={self.retries} lag={lag}"
        )
        return text + (f" — {self.error}" if self.error else "")


def key_fingerprint(key: str) -> str:
    """A short, non-reversible tag of the API key, to notice when it has been replaced."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _state(session: Session, account: str, stream: str = STREAM) -> SyncState:
    state = session.get(SyncState, (account, stream))
    if state is None:
        state = SyncState(
            account=account,
            stream=stream,
            status="idle",
            events_received=0,
            duplicates=0,
            retries=0,
            requests=0,
            errors=0,
        )
        session.add(state)
        session.flush()
    return state


class AccountSync:
    """The sync of one account: call `run()` once per poll."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        caller: PacedCaller,
        list_fn: ListFn,
        fetch_fn: FetchFn,
        *,
        account: str = "",
        key_tag: str = "",
        sweep_interval: float = 300.0,
        sweep_margin: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.Session = session_factory
        self.caller = caller
        self.list_fn = list_fn
        self.fetch_fn = fetch_fn
        self.account = account
        self.key_tag = key_tag
        self.sweep_interval = sweep_interval
        self.sweep_margin = sweep_margin
        self.clock = clock

    # -- requests ------------------------------------------------------------------------
    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.caller.call(self.list_fn, "events", params)

    def _pages(self, params: dict[str, Any], direction: str) -> Iterator[list[dict[str, Any]]]:
        """Pages oldest-first within each page; `direction` is ending_before or starting_after."""
        params = dict(params)
        while True:
            page = self._list({**params, "limit": PAGE_LIMIT})
            data = page.get("data") or []
            if data:
                yield list(reversed(data))
                edge = data[0] if direction == "ending_before" else data[-1]
                params[direction] = edge.get("id") if isinstance(edge, dict) else None
            if not data or not page.get("has_more") or not params[direction]:
                return

    # -- one run -------------------------------------------------------------------------
    def run(self, *, force: bool = False) -> SyncReport:
        """Fetch everything new for this account, store it, and record the outcome."""
        report = SyncReport(account=self.account)
        started = datetime.now(UTC)
        before = (
            self.caller.stats.requests,
            self.caller.stats.retries,
            self.caller.stats.errors,
        )
        with self.Session.begin() as session:
            state = _state(session, self.account)
            if state.status == "stopped" and state.stopped_key == self.key_tag and not force:
                report.ok, report.skipped, report.stopped = False, True, True
                report.error = state.last_error
                return report
            state.last_attempt_at = started
            cursor, walk = state.cursor, (state.walk_head, state.walk_cursor)
            last_created, last_sweep = state.last_created, state.last_sweep_at
            refused = set(state.unsupported or [])
        total = IngestResult()
        try:
            now = self.clock()
            if cursor and last_created and last_created < now - EVENT_WINDOW_SECONDS + 3600:
                # The cursor is about to leave Stripe's 30-day event window: events between it
                # and the window's start can no longer be listed. Objects come from a backfill.
                cursor = None
                report.needs_backfill = True
                with self.Session.begin() as session:
                    _state(session, self.account).cursor = None
            if cursor is None:
                report.walked = True
                cursor = self._walk(walk, total)
            if cursor is not None and REFUSED_ENDING_BEFORE in refused:
                self._rewalk(total)
            elif cursor is not None:
                try:
                    cursor = self._forward(cursor, total)
                except StripeRequestError as exc:
                    if exc.http_status != 400:
                        raise
                    self._refused(REFUSED_ENDING_BEFORE, exc)
                    self._rewalk(total)
            due = last_sweep is None or (now - last_sweep.timestamp()) >= self.sweep_interval
            sweepable = REFUSED_CREATED not in refused and REFUSED_ENDING_BEFORE not in refused
            if cursor is not None and due and not report.walked and sweepable:
                report.swept = True
                try:
                    self._sweep(total)
                except StripeRequestError as exc:
                    if exc.http_status != 400:
                        raise
                    self._refused(REFUSED_CREATED, exc)
            report.refreshed = refresh_requested(
                self.Session,
                lambda resource, oid: self.caller.call(self.fetch_fn, resource, oid),
                lambda resource, params: self.caller.call(self.list_fn, resource, params),
                account=self.account,
                clock=self.clock,
            )
        except (StripeAuthError, StripePermissionError) as exc:
            report.ok, report.stopped = False, True
            report.error = (
                f"{exc} — sync for this account is stopped; set a valid key with read access "
                "to events (STRIPE_API_KEY) and run the sync again."
            )
        except StripeError as exc:
            report.ok = False
            report.error = str(exc)
        self._finish(report, total, started, before)
        return report

    def _walk(self, walk: tuple[str | None, str | None], total: IngestResult) -> str | None:
        """Walk the event window newest → oldest, resumably; return the new cursor (the head)."""
        head, position = walk
        params: dict[str, Any] = {"starting_after": position} if position else {}

        def on_commit(session: Session, pages: list[list[dict[str, Any]]]) -> None:
            nonlocal head
            state = _state(session, self.account)
            if head is None:
                head = state.walk_head or pages[0][-1].get("id")
            state.walk_head = head
            state.walk_cursor = pages[-1][0].get("id")
            state.last_created = max(state.last_created or 0, *map(_newest, pages))

        total.add(
            store_pipelined(
                self.Session,
                self._pages(params, "starting_after"),
                account=self.account,
                source="poll",
                on_commit=on_commit,
            )
        )
        with self.Session.begin() as session:
            state = _state(session, self.account)
            head = head or state.walk_head
            state.cursor = head
            state.walk_head = state.walk_cursor = None
            state.last_sweep_at = datetime.now(UTC)  # the walk covered the whole window
        return head

    def _forward(self, cursor: str, total: IngestResult) -> str:
        """Page forward from the cursor; each stored group moves the cursor in its transaction."""
        latest = cursor

        def on_commit(session: Session, pages: list[list[dict[str, Any]]]) -> None:
            nonlocal latest
            state = _state(session, self.account)
            latest = pages[-1][-1].get("id") or latest
            state.cursor = latest
            state.last_created = max(state.last_created or 0, *map(_newest, pages))

        total.add(
            store_pipelined(
                self.Session,
                self._pages({"ending_before": cursor}, "ending_before"),
                account=self.account,
                source="poll",
                on_commit=on_commit,
            )
        )
        return latest

    def _refused(self, what: str, exc: StripeRequestError) -> None:
        """Remember that the server refuses a parameter, so it is not asked again."""
        with self.Session.begin() as session:
            state = _state(session, self.account)
            known = list(state.unsupported or [])
            if what not in known:
                state.unsupported = [*known, what]
            state.last_error = f"{what} ({exc})"

    def _rewalk(self, total: IngestResult) -> None:
        """Every listable event again with `starting_after` alone (dedupe keeps only the new)."""

        def on_commit(session: Session, pages: list[list[dict[str, Any]]]) -> None:
            state = _state(session, self.account)
            state.last_created = max(state.last_created or 0, *map(_newest, pages))

        total.add(
            store_pipelined(
                self.Session,
                self._pages({}, "starting_after"),
                account=self.account,
                source="poll",
                on_commit=on_commit,
            )
        )

    def _sweep(self, total: IngestResult) -> None:
        """Re-list recent events by `created[gte]`: late or same-second events are caught."""
        with self.Session() as session:
            last = _state(session, self.account).last_created or int(self.clock())
        since = {"created[gte]": int(last) - self.sweep_margin}
        total.add(
            store_pipelined(
                self.Session,
                self._pages({"created": {"gte": since["created[gte]"]}}, "starting_after"),
                account=self.account,
                source="sweep",
            )
        )
        with self.Session.begin() as session:
            _state(session, self.account).last_sweep_at = datetime.now(UTC)

    def _finish(
        self,
        report: SyncReport,
        total: IngestResult,
        started: datetime,
        before: tuple[int, ...],
    ) -> None:
        stats = self.caller.stats
        report.requests = stats.requests - before[0]
        report.retries = stats.retries - before[1]
        report.errors = stats.errors - before[2]
        report.events_new, report.duplicates, report.dead = (
            total.new,
            total.duplicates,
            total.dead,
        )
        finished = datetime.now(UTC)
        with self.Session.begin() as session:
            state = _state(session, self.account)
            state.events_received += total.new
            state.duplicates += total.duplicates
            state.requests += report.requests
            state.retries += report.retries
            state.errors += report.errors
            if state.last_created:
                report.lag_seconds = max(0.0, self.clock() - state.last_created)
            report.cursor = state.cursor
            if report.ok:
                state.status, state.last_error, state.stopped_key = "ok", None, None
                state.last_success_at = finished
            elif report.stopped:
                state.status, state.last_error = "stopped", report.error
                state.stopped_key = self.key_tag
            else:
                state.status, state.last_error = "error", report.error
            session.add(
                SyncRun(
                    account=self.account,
                    stream=STREAM,
                    started_at=started,
                    finished_at=finished,
                    ok=report.ok,
                    events_new=total.new,
                    duplicates=total.duplicates,
                    requests=report.requests,
                    retries=report.retries,
                    lag_seconds=report.lag_seconds,
                    error=report.error,
                )
            )


def _newest(page: list[dict[str, Any]]) -> int:
    created = [e.get("created") for e in page if isinstance(e, dict)]
    return max((c for c in created if isinstance(c, int)), default=0)
