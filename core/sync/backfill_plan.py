"""The backfill's plan and outcome: when one is due, the shards it walks, what a run did.

Shards are `created` windows of the recent past plus one shard per list of live objects
(core/sync/backfill_lists.py); they are stored with their cursors, so an interrupted backfill
resumes where it stopped and a partial one retries only what failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import insert_ignore
from core.models.sync import BackfillShard, SyncRun, SyncState
from core.sync.backfill_lists import LISTS, ListSpec

STREAM = "backfill"
RETRY_BACKOFF = timedelta(minutes=15)  # first wait before a partial backfill is retried
MAX_RETRY_BACKOFF = timedelta(hours=6)


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
    unsupported: list[str] = field(default_factory=list)

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


def needs_backfill(session: Session, account: str, now: datetime | None = None) -> bool:
    """True on first start (no events cursor, no finished backfill), when one was interrupted,
    and when a partial one's back-off has passed; never on every pass after a failure."""
    back = session.get(SyncState, (account, STREAM))
    if back is not None and back.status == "running":
        return True
    if back is not None and back.status == "partial":
        due = back.retry_after is None or back.retry_after <= (now or datetime.now(UTC))
        return due
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
    lists: dict[str, ListSpec] = LISTS,
) -> None:
    """Create the shards of a new backfill, or keep the unfinished plan of an interrupted one
    (a partial one retries only its failed shards)."""
    state = session.get(SyncState, (account, STREAM))
    if state is not None and state.status in ("running", "partial"):
        if state.status == "partial":
            for shard in session.scalars(
                select(BackfillShard).where(
                    BackfillShard.account == account, BackfillShard.error.is_not(None)
                )
            ):
                shard.error, shard.done = None, False
            state.status = "running"
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
    state.failures, state.retry_after = 0, None
    state.last_attempt_at = datetime.now(UTC)
    session.query(BackfillShard).filter(BackfillShard.account == account).delete()
    step = max(1, (until - since + windows - 1) // windows)
    rows = [
        {
            "account": account,
            "resource": name,
            "window_start": start,
            "window_end": min(until, start + step),
            "cursor": None,
            "done": False,
            "objects": 0,
            "updated_at": datetime.now(UTC),
        }
        for name, spec in lists.items()
        for start in (range(since, until, step) if spec.windowed else (0,))
    ]
    for row in rows:
        if row["window_start"] == 0:
            row["window_end"] = until  # a whole list: one shard, no window
    insert_ignore(
        session,
        BackfillShard.__table__,  # type: ignore[arg-type]
        rows,
        ["account", "resource", "window_start", "window_end"],
    )


def record(
    session_factory: sessionmaker[Session],
    report: BackfillReport,
    started: datetime,
    *,
    stopped: bool,
) -> None:
    """Record a run's outcome in sync_state (done, partial with a back-off, or interrupted)
    and in sync_runs."""
    with session_factory.begin() as session:
        state = session.get(SyncState, (report.account, STREAM))
        assert state is not None
        state.requests += report.requests
        state.retries += report.retries
        state.errors += int(not report.ok)
        state.events_received += report.objects  # objects, for this stream
        if report.unsupported:
            known = list(state.unsupported or [])
            state.unsupported = known + [u for u in report.unsupported if u not in known]
        now = datetime.now(UTC)
        if report.ok and report.shards_done >= report.shards:
            state.status, state.last_error, state.retry_after = "done", None, None
            state.last_success_at = now
            state.failures = 0
        elif not stopped and report.error is not None:
            # Some lists failed after their retries: what was stored stands; the failed
            # shards are retried after a back-off that doubles, not on every sync pass.
            state.failures = (state.failures or 0) + 1
            wait = min(MAX_RETRY_BACKOFF, RETRY_BACKOFF * 2 ** (state.failures - 1))
            state.status, state.retry_after = "partial", now + wait
            state.last_error = (
                f"{report.error} — the lists that failed are retried after "
                f"{state.retry_after:%H:%M} UTC (or run `python -m jobs backfill`)."
            )
        else:
            state.last_error = report.error or "interrupted"
        session.add(
            SyncRun(
                account=report.account,
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


@dataclass
class LiveShard:
    """A shard being fetched. Pages come newest first, so what is left is [start, low]."""

    resource: str
    start: int
    end: int
    low: int | None = None  # lowest `created` fetched so far (None before the first page)
    seen: int = 0
    more: bool = True

    windowed: bool = True

    def remaining(self) -> float:
        """Estimated objects left, from the density of what was fetched so far."""
        if not self.windowed:
            return 0.0  # a whole list has no window to split
        if self.low is None or not self.more or self.low - self.start < 2:
            return 0.0
        return self.seen / max(1, self.end - self.low) * (self.low - self.start)


def created_of(obj: dict[str, Any], default: int) -> int:
    """An object's `created`, or `default` when it has none."""
    value = obj.get("created")
    return value if isinstance(value, int) else default
