"""Sync health: per-account cursor, freshness, counters, the queue, and history for charts.

Read-only queries returning dataclasses; `python -m jobs status` and the "Sync health" page
render them. Other areas add their own sections to `status_report` through STATUS_SECTIONS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import quick_check, storage_errors
from core.errors import StorageError
from core.models.sync import BackfillShard, Event, SyncRun, SyncState, WebhookReject
from core.sync.connect import synced_accounts

FAILING_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class AccountHealth:
    """How one account's event sync is doing."""

    account: str
    status: str  # ok | failing | stopped | never
    cursor: str | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    lag_seconds: float | None
    events_last_hour: int
    events_total: int
    duplicates: int
    retries: int
    errors: int
    requests: int
    backfill: str | None
    unsupported: tuple[str, ...] = ()  # what the server refused (sync and backfill)
    backfill_error: str | None = None

    @property
    def label(self) -> str:
        """The account as the finance team knows it."""
        return self.account or "platform"


@dataclass(frozen=True)
class QueueHealth:
    """The processing queue."""

    pending: int
    retrying: int
    dead: int
    processed: int  # 0 unless asked for (see queue_health)


@dataclass(frozen=True)
class HistoryPoint:
    """One sync run, for the receipt-rate and lag chart."""

    account: str
    at: datetime
    events_new: int
    events_per_hour: float
    lag_seconds: float | None
    ok: bool


def account_health(
    session: Session, settings: Settings, now: float | None = None
) -> list[AccountHealth]:
    """Every configured (or synced) account's event sync health."""
    now = now if now is not None else time.time()
    states = {(s.account, s.stream): s for s in session.scalars(select(SyncState)).all()}
    accounts = synced_accounts(session, settings)
    accounts += sorted({a for a, _ in states} - set(accounts))
    hour_ago = datetime.fromtimestamp(now, UTC) - timedelta(hours=1)
    # Grouped by an expression, not the column: given `GROUP BY account`, SQLite walks the
    # (account, created) index over every event ever stored instead of the last hour's range
    # of ix_events_received_at (0.4 s at 500,000 events against a few milliseconds).
    by_account = func.coalesce(Event.account, "")
    recent = dict(
        session.execute(
            select(by_account, func.count())
            .where(Event.received_at >= hour_ago)
            .group_by(by_account)
        ).all()
    )
    limit = FAILING_AFTER_INTERVALS * settings.sync_interval_seconds
    out = []
    for account in accounts:
        st = states.get((account, "events"))
        back = states.get((account, "backfill"))
        if st is None:
            status = "never"
        elif st.status == "stopped":
            status = "stopped"
        elif st.last_success_at is None or now - st.last_success_at.timestamp() > limit:
            status = "failing"
        else:
            status = "ok"
        out.append(
            AccountHealth(
                account=account,
                status=status,
                cursor=st.cursor if st else None,
                last_success_at=st.last_success_at if st else None,
                last_attempt_at=st.last_attempt_at if st else None,
                last_error=st.last_error if st else None,
                lag_seconds=max(0.0, now - st.last_created) if st and st.last_created else None,
                events_last_hour=int(recent.get(account, 0)),
                events_total=int(st.events_received) if st else 0,
                duplicates=int(st.duplicates) if st else 0,
                retries=int(st.retries + (back.retries if back else 0)) if st else 0,
                errors=int(st.errors) if st else 0,
                requests=int(st.requests) if st else 0,
                backfill=back.status if back else None,
                unsupported=tuple(
                    [
                        *(st.unsupported or [] if st else []),
                        *(back.unsupported or [] if back else []),
                    ]
                ),
                backfill_error=back.last_error if back else None,
            )
        )
    return out


def queue_health(session: Session, *, with_processed: bool = False) -> QueueHealth:
    """Counts of the processing queue by state. Processed events (nearly all of them) are only
    counted when asked: that walks every event, the open states are a short index range."""
    states = ["pending", "failed", "dead"] + (["processed"] if with_processed else [])
    counts = dict(
        session.execute(
            select(Event.status, func.count())
            .where(Event.status.in_(states))
            .group_by(Event.status)
        ).all()
    )
    return QueueHealth(
        pending=int(counts.get("pending", 0)),
        retrying=int(counts.get("failed", 0)),
        dead=int(counts.get("dead", 0)),
        processed=int(counts.get("processed", 0)),
    )


@dataclass(frozen=True)
class StorageHealth:
    """The database's own health: SQLite's quick_check now, and the storage failures recorded
    by the jobs (disk full, read-only, locked, damaged, unreachable) with the last one."""

    check: str  # "ok" or the one line saying what is wrong
    errors: int
    last_kind: str
    last_error: str
    last_at: str

    @property
    def ok(self) -> bool:
        """True when the check passes (earlier failures are history, shown but not failing)."""
        return self.check == "ok"


def storage_health(session: Session, settings: Settings) -> StorageHealth:
    """Run the quick check on the session's database and read the recorded storage failures."""
    try:
        quick_check(session.connection())
        check = "ok"
    except StorageError as exc:
        check = str(exc)
    return StorageHealth(check=check, **storage_errors(settings.data_dir))


# Counted beside the refusals but answered 200: the event is stored for audit, not applied.
STORED_NOT_APPLIED = frozenset({"unknown_type"})


def webhook_rejects(session: Session) -> dict[str, int]:
    """Refused webhook deliveries by reason."""
    rows = session.scalars(select(WebhookReject)).all()
    return {r.reason: int(r.count) for r in rows if r.reason not in STORED_NOT_APPLIED}


def webhook_stored_not_applied(session: Session) -> dict[str, int]:
    """Webhook deliveries stored for audit but not applied to snapshots, by reason."""
    rows = session.scalars(select(WebhookReject)).all()
    return {r.reason: int(r.count) for r in rows if r.reason in STORED_NOT_APPLIED}


def webhook_reject_details(session: Session) -> list[dict[str, Any]]:
    """Every webhook counter with its last occurrence and detail, for the health page."""
    rows = session.scalars(select(WebhookReject).order_by(WebhookReject.reason)).all()
    return [
        {
            "reason": r.reason,
            "count": int(r.count),
            "answered": "200, stored only" if r.reason in STORED_NOT_APPLIED else "refused",
            "last": r.last_at,
            "last detail": r.last_detail or "",
        }
        for r in rows
    ]


def dead_letters(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """The newest dead events with their reason, for the health page."""
    rows = session.execute(
        select(Event.event_id, Event.account, Event.type, Event.attempts, Event.last_error)
        .where(Event.status == "dead")
        .order_by(Event.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "event": r[0],
            "account": r[1] or "platform",
            "type": r[2],
            "attempts": r[3],
            "reason": r[4],
        }
        for r in rows
    ]


def sync_history(
    session: Session, *, hours: float = 24, now: float | None = None
) -> list[HistoryPoint]:
    """Event-sync runs of the last `hours`, oldest first, with receipt rate and lag."""
    now = now if now is not None else time.time()
    since = datetime.fromtimestamp(now, UTC) - timedelta(hours=hours)
    runs = session.scalars(
        select(SyncRun)
        .where(SyncRun.stream == "events", SyncRun.started_at >= since)
        .order_by(SyncRun.started_at)
    ).all()
    points: list[HistoryPoint] = []
    previous: dict[str, datetime] = {}
    for run in runs:
        gap = (
            (run.finished_at - previous[run.account]).total_seconds()
            if run.account in previous
            else 0
        )
        previous[run.account] = run.finished_at
        rate = run.events_new * 3600 / gap if gap > 0 else 0.0
        points.append(
            HistoryPoint(
                run.account or "platform",
                run.finished_at,
                run.events_new,
                rate,
                run.lag_seconds,
                run.ok,
            )
        )
    return points


def sync_history_total(
    session: Session, *, hours: float = 24, now: float | None = None, bucket: int = 900
) -> list[HistoryPoint]:
    """Event-sync runs of every account together, per `bucket` seconds, oldest first: the
    chart of a Connect platform, whose runs are too many to read one by one (a thousand
    accounts synced every 30 s make 2.9 million runs a day). Rate: the bucket's new events per
    hour; lag: the worst run's; ok: whether every run in it succeeded. Summed in SQL."""
    now = now if now is not None else time.time()
    since = datetime.fromtimestamp(now, UTC) - timedelta(hours=hours)
    if session.get_bind().dialect.name == "postgresql":
        epoch: Any = func.extract("epoch", SyncRun.finished_at)
    else:
        epoch = cast(func.strftime("%s", SyncRun.finished_at), Integer)
    slot = func.floor(epoch / bucket).label("slot")
    rows = session.execute(
        select(
            slot,
            func.sum(SyncRun.events_new),
            func.max(SyncRun.lag_seconds),
            func.min(cast(SyncRun.ok, Integer)),
        )
        .where(SyncRun.stream == "events", SyncRun.started_at >= since)
        .group_by(slot)
        .order_by(slot)
    ).all()
    return [
        HistoryPoint(
            "all accounts",
            datetime.fromtimestamp((int(at) + 1) * bucket, UTC),
            int(events or 0),
            int(events or 0) * 3600 / bucket,
            None if lag is None else float(lag),
            bool(ok),
        )
        for at, events, lag, ok in rows
    ]


@dataclass(frozen=True)
class FirstLoad:
    """How far the first complete load of the configured accounts has got."""

    complete: bool
    lists_done: int
    lists_total: int
    objects: int
    waiting: tuple[str, ...]  # accounts whose first load has not finished

    def sentence(self) -> str:
        """One line for the pages and the log."""
        if self.complete:
            return "The first load from Stripe is complete."
        share = f"{self.lists_done} of {self.lists_total} lists" if self.lists_total else "starting"
        return (
            f"Loading the account's history from Stripe ({share}, {self.objects:,} objects so "
            "far): figures are incomplete until the first load finishes."
        )


def first_load(session: Session, accounts: list[str]) -> FirstLoad:
    """Whether each account has its first complete load: the backfill of live objects and the
    recent past has finished (partial counts: its gaps are on the Sync health page) and the
    event window has been walked."""
    states = {
        (s.account, s.stream): s
        for s in session.scalars(select(SyncState).where(SyncState.account.in_(accounts)))
    }
    waiting = []
    for account in accounts:
        events, back = states.get((account, "events")), states.get((account, "backfill"))
        walked = events is not None and events.cursor is not None
        loaded = back is None or back.status in ("done", "partial")
        if not (walked and loaded):
            waiting.append(account)
    done, total, objects = session.execute(
        select(
            func.count().filter(BackfillShard.done),
            func.count(),
            func.coalesce(func.sum(BackfillShard.objects), 0),
        ).where(BackfillShard.account.in_(accounts))
    ).one()
    return FirstLoad(not waiting, int(done), int(total), int(objects), tuple(waiting))
