"""The Overview read model: what a finance lead checks first each morning.

Every figure is aggregated in SQL (counts and sums grouped by currency or week), so the cost
stays flat as the account grows. Where another area already has the query (approvals waiting,
sync health), it is reused rather than re-implemented.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.books import figures
from core.config import Settings
from core.governance.auth import Actor
from core.governance.policy import Policy, load_policy
from core.governance.queries import awaiting
from core.models.books import DriftSnapshot
from core.models.disputes import DisputeCase, awaiting_response
from core.models.recovery import RecoveryCase
from core.models.sync import Event
from core.sync.health import account_health, queue_health

WEEK = 7 * 86400
DUE_SOON_SECONDS = 72 * 3600
FAILURE_EVENT = "invoice.payment_failed"

Amounts = dict[str, int]  # minor units by lower-case currency


@dataclass(frozen=True)
class SyncSummary:
    """The sync at a glance: the worst account status, the biggest lag, the stuck queue."""

    status: str  # ok | failing | stopped | never
    accounts: int
    max_lag_seconds: float | None
    last_success_at: datetime | None
    pending: int
    dead: int


@dataclass(frozen=True)
class DriftSummary:
    """The latest recorded drift counts."""

    day: date | None
    alarms: int  # checks with at least one item
    items: int
    worst: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Overview:
    """The Overview page's tiles."""

    failed_today: int
    failed_today_amounts: Amounts
    at_risk_cases: int
    at_risk_amounts: Amounts
    recovered_this_month: int
    recovered_amounts: Amounts
    disputes_due_72h: int
    nearest_due_by: int | None
    disputes_past_due: int
    approvals_waiting: int | None  # None: the user's role decides nothing
    drift: DriftSummary
    sync: SyncSummary
    has_data: bool


def day_start(now: float, tz: ZoneInfo) -> int:
    """Epoch seconds of midnight today in the team's time zone."""
    local = datetime.fromtimestamp(now, tz)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


def month_start(now: float, tz: ZoneInfo) -> int:
    """Epoch seconds of the first of this month in the team's time zone."""
    local = datetime.fromtimestamp(now, tz)
    return int(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())


def _amounts(rows: Any) -> Amounts:
    return {str(cur).lower(): int(total or 0) for cur, total in rows if cur}


def failed_today(session: Session, since: int) -> tuple[int, Amounts]:
    """Failed invoice payments since `since` (one per failure event) and their amounts."""
    count = session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.type == FAILURE_EVENT, Event.created >= since)
    )
    # The case carries the amount: one row per invoice that failed today.
    amounts = session.execute(
        select(RecoveryCase.currency, func.sum(RecoveryCase.amount_remaining))
        .where(RecoveryCase.last_event_created >= since, RecoveryCase.status == "open")
        .group_by(RecoveryCase.currency)
    ).all()
    return int(count or 0), _amounts(amounts)


def at_risk(session: Session) -> tuple[int, Amounts]:
    """Open recovery cases and what they still owe."""
    rows = session.execute(
        select(RecoveryCase.currency, func.count(), func.sum(RecoveryCase.amount_remaining))
        .where(RecoveryCase.status == "open")
        .group_by(RecoveryCase.currency)
    ).all()
    return sum(int(n) for _, n, _ in rows), _amounts((c, s) for c, _, s in rows)


def recovered_since(session: Session, since: int) -> tuple[int, Amounts]:
    """Cases recovered since `since` and the amounts recovered."""
    rows = session.execute(
        select(RecoveryCase.currency, func.count(), func.sum(RecoveryCase.recovered_amount))
        .where(RecoveryCase.status == "recovered", RecoveryCase.closed_at >= since)
        .group_by(RecoveryCase.currency)
    ).all()
    return sum(int(n) for _, n, _ in rows), _amounts((c, s) for c, _, s in rows)


def disputes_due(session: Session, now: int) -> tuple[int, int | None, int]:
    """Unanswered disputes due within 72 h, the nearest deadline, and those past due."""
    waiting = and_(awaiting_response(), DisputeCase.due_by > 0)
    soon, nearest = session.execute(
        select(func.count(), func.min(DisputeCase.due_by)).where(
            waiting, DisputeCase.due_by > now, DisputeCase.due_by <= now + DUE_SOON_SECONDS
        )
    ).one()
    if nearest is None:  # nothing within 72 h: still show the next deadline, however far
        nearest = session.scalar(
            select(func.min(DisputeCase.due_by)).where(waiting, DisputeCase.due_by > now)
        )
    past = session.scalar(
        select(func.count()).select_from(DisputeCase).where(waiting, DisputeCase.due_by <= now)
    )
    return int(soon or 0), int(nearest) if nearest else None, int(past or 0)


def approvals_waiting(session: Session, actor: Actor, policy: Policy | None = None) -> int | None:
    """How many requests this person may decide now; None for roles that never approve."""
    if actor.role not in ("approver", "admin"):
        return None
    return len(awaiting(session, actor, policy))


def drift_summary(session: Session, top: int = 3) -> DriftSummary:
    """The newest day of recorded drift counts (running every check is the Drift page's job)."""
    day = session.scalar(select(func.max(DriftSnapshot.day)))
    if day is None:
        return DriftSummary(None, 0, 0)
    rows = session.execute(
        select(
            DriftSnapshot.check,
            DriftSnapshot.count,
            DriftSnapshot.details["title"].as_string(),  # the check's title in words
        )
        .where(DriftSnapshot.day == day, DriftSnapshot.count > 0)
        .order_by(DriftSnapshot.count.desc())
    ).all()
    return DriftSummary(
        day,
        len(rows),
        sum(int(n) for _, n, _t in rows),
        [(title or c.replace("_", " "), int(n)) for c, n, title in rows[:top]],
    )


_STATUS_RANK = {"ok": 0, "never": 1, "failing": 2, "stopped": 3}


def sync_summary(session: Session, settings: Settings, now: float) -> SyncSummary:
    """Collapse the Sync health page's per-account view into one tile."""
    accounts = account_health(session, settings, now=now)
    queue = queue_health(session)
    worst = max((a.status for a in accounts), key=lambda s: _STATUS_RANK.get(s, 2), default="never")
    lags = [a.lag_seconds for a in accounts if a.lag_seconds is not None]
    successes = [a.last_success_at for a in accounts if a.last_success_at]
    return SyncSummary(
        status=worst,
        accounts=len(accounts),
        max_lag_seconds=max(lags) if lags else None,
        last_success_at=max(successes) if successes else None,
        pending=queue.pending + queue.retrying,
        dead=queue.dead,
    )


def overview(
    session: Session, settings: Settings, actor: Actor, now: float | None = None
) -> Overview:
    """Every tile of the Overview page, for `actor`, at `now` (epoch seconds)."""
    now = time.time() if now is None else now
    tz = settings.tz
    n_today, today_amounts = failed_today(session, day_start(now, tz))
    n_risk, risk_amounts = at_risk(session)
    n_rec, rec_amounts = recovered_since(session, month_start(now, tz))
    soon, nearest, past = disputes_due(session, int(now))
    sync = sync_summary(session, settings, now)
    has_data = session.scalar(select(Event.id).limit(1)) is not None
    return Overview(
        failed_today=n_today,
        failed_today_amounts=today_amounts,
        at_risk_cases=n_risk,
        at_risk_amounts=risk_amounts,
        recovered_this_month=n_rec,
        recovered_amounts=rec_amounts,
        disputes_due_72h=soon,
        nearest_due_by=nearest,
        disputes_past_due=past,
        approvals_waiting=approvals_waiting(session, actor, load_policy(settings.policy_file)),
        drift=drift_summary(session),
        sync=sync,
        has_data=has_data,
    )


# --- trends -----------------------------------------------------------------------------------


def _week_index(column: Any, origin: int) -> Any:
    # `//` is integer (floor) division on both dialects; `/` would be true division in SQLAlchemy 2.
    return (column - origin) // WEEK


def _week_labels(origin: int, weeks: int, tz: ZoneInfo) -> list[date]:
    return [datetime.fromtimestamp(origin + i * WEEK, tz).date() for i in range(weeks)]


def trend_origin(now: float, tz: ZoneInfo, weeks: int) -> int:
    """Start of the first week shown: midnight, `weeks` weeks before the end of today."""
    return day_start(now, tz) + 86400 - weeks * WEEK


def recovery_trend(
    session: Session, settings: Settings, weeks: int = 12, now: float | None = None
) -> list[dict[str, Any]]:
    """Per week of first failure: cases opened, recovered, lost, and the recovery rate (%)."""
    now = time.time() if now is None else now
    origin = trend_origin(now, settings.tz, weeks)
    week = _week_index(RecoveryCase.first_failed_at, origin)
    rows = session.execute(
        select(week, RecoveryCase.status, func.count())
        .where(RecoveryCase.first_failed_at >= origin)
        .group_by(week, RecoveryCase.status)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for w, status, n in rows:
        counts.setdefault(int(w), {})[status] = int(n)
    out = []
    for i, start in enumerate(_week_labels(origin, weeks, settings.tz)):
        c = counts.get(i, {})
        opened = sum(c.values())
        recovered = c.get("recovered", 0)
        rate = figures.ratio(recovered, opened)  # the headline recovery rate, week by week
        out.append(
            {
                "week": start,
                "opened": opened,
                "recovered": recovered,
                "lost": c.get("lost", 0),
                "recovery_rate": None if rate is None else round(100 * rate, 1),
            }
        )
    return out


def dispute_trend(
    session: Session, settings: Settings, weeks: int = 12, now: float | None = None
) -> list[dict[str, Any]]:
    """Per week of creation: disputes opened and the disputed amount (by currency)."""
    now = time.time() if now is None else now
    origin = trend_origin(now, settings.tz, weeks)
    week = _week_index(DisputeCase.stripe_created, origin)
    rows = session.execute(
        select(week, DisputeCase.currency, func.count(), func.sum(DisputeCase.amount))
        .where(DisputeCase.stripe_created >= origin)
        .group_by(week, DisputeCase.currency)
    ).all()
    by_week: dict[int, tuple[int, Amounts]] = {}
    for w, cur, n, total in rows:
        count, amounts = by_week.get(int(w), (0, {}))
        amounts[str(cur).lower()] = int(total or 0)
        by_week[int(w)] = (count + int(n), amounts)
    return [
        {
            "week": start,
            "disputes": by_week.get(i, (0, {}))[0],
            "amounts": by_week.get(i, (0, {}))[1],
        }
        for i, start in enumerate(_week_labels(origin, weeks, settings.tz))
    ]


def failure_trend(
    session: Session, settings: Settings, weeks: int = 12, now: float | None = None
) -> list[dict[str, Any]]:
    """Per week: failed invoice payments (every failed attempt counts)."""
    now = time.time() if now is None else now
    origin = trend_origin(now, settings.tz, weeks)
    week = _week_index(Event.created, origin)
    rows: dict[int, int] = dict(
        session.execute(
            select(week, func.count())
            .where(Event.type == FAILURE_EVENT, Event.created >= origin)
            .group_by(week)
        ).all()
    )
    return [
        {"week": start, "failed_payments": int(rows.get(i, 0))}
        for i, start in enumerate(_week_labels(origin, weeks, settings.tz))
    ]
