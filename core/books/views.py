"""Read models for the Payouts & books page: SQL aggregates and pages, never whole tables.

The exports (core/reports/books.py) keep the complete analyses; the page shows counts, recent
rows and the subscription picture computed in the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from core.books import figures
from core.books import queries as q
from core.books.data import get_object
from core.books.lifecycle import STAGES, Lifecycle, analyse, churn_kind
from core.books.tax import tax_summary
from core.db import upsert
from core.models.base import utcnow
from core.models.books import BooksReadModel, JournalBatch, PayoutReconciliation
from core.models.sync import Event, StripeObject


def payout_state_counts(session: Session) -> dict[str, int]:
    """How many payouts are in each reconciliation state."""
    stmt = select(PayoutReconciliation.state, func.count()).group_by(PayoutReconciliation.state)
    return {state: int(n) for state, n in session.execute(stmt)}


def recent_payouts(
    session: Session, limit: int = 50, offset: int = 0
) -> list[PayoutReconciliation]:
    """One page of reconciled payouts, newest arrival first."""
    stmt = (
        select(PayoutReconciliation)
        .order_by(PayoutReconciliation.arrival_date.desc(), PayoutReconciliation.payout_id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def batch_count(session: Session) -> int:
    """How many journal batches exist."""
    return int(session.scalar(select(func.count()).select_from(JournalBatch)) or 0)


@dataclass
class LifecycleSummary:
    """The subscription picture for the page: funnel, churn split, MRR and MRR at risk.

    MRR, MRR at risk and MRR set to cancel are the headline figures of core/books/figures.py.
    """

    funnel: dict[str, int] = field(default_factory=dict)
    churn: dict[str, int] = field(default_factory=dict)
    mrr: dict[str, int] = field(default_factory=dict)  # per currency
    mrr_at_risk: dict[str, int] = field(default_factory=dict)
    at_risk: list[dict[str, Any]] = field(default_factory=list)
    at_risk_count: int = 0
    mrr_set_to_cancel: dict[str, int] = field(default_factory=dict)
    set_to_cancel_count: int = 0


def lifecycle_summary(session: Session, at_risk_limit: int = 100) -> LifecycleSummary:
    """Funnel by status, churn split, the MRR figures and the largest subscriptions behind MRR
    at risk and MRR set to cancel (SQL)."""
    status = q.D["status"].as_string()
    funnel: dict[str, int] = dict(
        session.execute(
            select(status, func.count())
            .where(StripeObject.object_type == "subscription")
            .group_by(status)
        ).all()
    )
    money = figures.mrr_figures(session)
    return LifecycleSummary(
        funnel={stage: int(funnel.get(stage, 0)) for stage in STAGES},
        churn=_churn(session),
        mrr=money.mrr,
        mrr_at_risk=money.at_risk,
        at_risk=figures.at_risk_subscriptions(session, at_risk_limit),
        at_risk_count=money.at_risk_count + money.set_to_cancel_count,
        mrr_set_to_cancel=money.set_to_cancel,
        set_to_cancel_count=money.set_to_cancel_count,
    )


def _churn(session: Session) -> dict[str, int]:
    """Voluntary vs involuntary among canceled subscriptions (small columns of those only)."""
    canceled = (
        select(
            StripeObject.id,
            q.D[("cancellation_details", "reason")].as_string(),
            q.D["cancel_at_period_end"].as_boolean(),
        )
        .where(StripeObject.object_type == "subscription", q.D["status"].as_string() == "canceled")
        .subquery("canceled")
    )
    prev_status = Event.payload[("data", "previous_attributes", "status")].as_string()
    # Driven from the canceled subscriptions through the events' object_id index.
    prev = (
        select(canceled.c.id.label("sid"), func.max(prev_status).label("prev"))
        .join(Event, Event.object_id == canceled.c.id)
        .where(
            Event.type.in_(("customer.subscription.deleted", "customer.subscription.updated")),
            Event.payload[("data", "object", "status")].as_string() == "canceled",
        )
        .group_by(canceled.c.id)
        .subquery("prev")
    )
    stmt = select(canceled, prev.c.prev).outerjoin(prev, prev.c.sid == canceled.c.id)
    result = {"voluntary": 0, "involuntary": 0}
    for _sid, reason, cap, previous in session.execute(stmt):
        sub = {
            "status": "canceled",
            "cancellation_details": {"reason": reason},
            "cancel_at_period_end": bool(cap),
        }
        result[churn_kind(sub, previous)] += 1
    return result


def default_tax_period(today: date) -> tuple[date, date]:
    """The page's tax period: the start of the previous month through today."""
    first = today.replace(day=1)
    prev = (first.replace(year=first.year - 1, month=12) if first.month == 1
            else first.replace(month=first.month - 1))  # fmt: skip
    return prev, today


# --- Read models the books job refreshes, so the page never computes them on a render --------

LIFECYCLE = "lifecycle"
TAX = "tax_recent"
CHARGES = "charges_per_month"  # the dispute rate's denominator, for the Disputes page


FRESHNESS = "read_models_meta"  # what the read models were computed from, and how long it took
# A refresh waits this long after the last one, and at least DUTY_FACTOR times what the last one
# took: at 100,000 customers a refresh takes about 30 s, so it never occupies more than 1/20th
# of the machine however fast events arrive.
MIN_REFRESH_GAP_S = 45  # under the scheduler's 60 s check, so a due refresh is never a tick late
DUTY_FACTOR = 20


def charges_per_month(session: Session) -> dict[str, int]:
    """Charges per month ("YYYY-MM"), the dispute rate's denominator.

    It reads every charge's JSON (seconds on a large account), so the books job stores it as a
    read model and the Disputes page reads that (below).
    """
    # Count charges per day in SQL (a few hundred rows, not one per charge), then fold days
    # into months here.
    day = (StripeObject.data["created"].as_integer() // 86400).label("day")
    per_day = session.execute(
        select(day, func.count()).where(StripeObject.object_type == "charge").group_by(day)
    )
    by_month: dict[str, int] = {}
    for d, n in per_day:
        if d is not None:
            month = datetime.fromtimestamp(int(d) * 86400, UTC).strftime("%Y-%m")
            by_month[month] = by_month.get(month, 0) + int(n)
    return by_month


def save_read_models(session: Session, today: date) -> float:
    """Compute the pages' lifecycle picture, recent tax and charges per month, and store them;
    returns the seconds it took."""

    started = time.perf_counter()
    events_seen = session.scalar(select(func.max(Event.id))) or 0
    tax_from, tax_to = default_tax_period(today)
    life = asdict(lifecycle_summary(session))
    tax = {
        "from": tax_from.isoformat(),
        "to": tax_to.isoformat(),
        "rows": tax_view(session, tax_from, tax_to),
    }
    charges = {"months": charges_per_month(session)}
    seconds = round(time.perf_counter() - started, 3)
    now = utcnow()
    freshness = {"events_seen": int(events_seen), "seconds": seconds}
    upsert(
        session,
        BooksReadModel.__table__,  # type: ignore[arg-type]
        [
            {"name": LIFECYCLE, "data": life, "taken_at": now},
            {"name": TAX, "data": tax, "taken_at": now},
            {"name": CHARGES, "data": charges, "taken_at": now},
            {"name": FRESHNESS, "data": freshness, "taken_at": now},
        ],
        ["name"],
        ["data", "taken_at"],
    )
    return seconds


def read_models_stale(session: Session, now: datetime) -> bool:
    """Whether events arrived since the read models were computed and a refresh is due now.

    On a first start the hourly books job runs before the first sync has stored anything; this
    lets the scheduler recompute the figures within a minute of the data arriving instead of an
    hour later.
    """
    saved = read_model(session, FRESHNESS)
    if saved is None:
        return True
    meta, taken_at = saved
    newest = session.scalar(select(func.max(Event.id))) or 0
    if newest <= int(meta.get("events_seen", 0)):
        return False
    gap = max(MIN_REFRESH_GAP_S, DUTY_FACTOR * float(meta.get("seconds", 0)))
    return (now - taken_at).total_seconds() >= gap


def read_model(session: Session, name: str) -> tuple[dict[str, Any], datetime] | None:
    """A stored read model and when it was computed, or None before the first refresh."""

    # A database built before this table existed (an older dataset) simply has no read model.
    if not inspect(session.connection()).has_table(BooksReadModel.__tablename__):
        return None
    row = session.get(BooksReadModel, name)
    return (dict(row.data), row.taken_at) if row is not None else None


def lifecycle_from(data: dict[str, Any]) -> LifecycleSummary:
    """A stored lifecycle picture back as a LifecycleSummary."""
    return LifecycleSummary(**data)


def tax_view(
    session: Any, date_from: date | None = None, date_to: date | None = None
) -> list[dict[str, Any]]:
    """Tax per jurisdiction and month from the stored paid invoices of the period.

    The database picks the paid invoices whose tax day falls in the period, so a short period
    reads only its own invoices.
    """
    data = StripeObject.data
    day_ts = func.coalesce(
        data[("status_transitions", "paid_at")].as_integer(),
        data[("status_transitions", "finalized_at")].as_integer(),
        data["created"].as_integer(),
    )
    stmt = select(data).where(
        StripeObject.object_type == "invoice", data["status"].as_string() == "paid"
    )
    if date_from:
        stmt = stmt.where(
            day_ts >= int(datetime.combine(date_from, time_of_day(), UTC).timestamp())
        )
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), time_of_day(), UTC)
        stmt = stmt.where(day_ts < int(end.timestamp()))
    cache: dict[str, dict[str, Any] | None] = {}

    def lookup(rate_id: str) -> dict[str, Any] | None:
        if rate_id not in cache:
            cache[rate_id] = get_object(session, rate_id)
        return cache[rate_id]

    # Streamed: the summary folds each invoice into its group as it arrives.
    invoices = session.scalars(stmt.execution_options(yield_per=100))
    return tax_summary(invoices, lookup, date_from, date_to)


def lifecycle_view(session: Any) -> Lifecycle:
    """Analyse the stored subscriptions and their events, streamed: the database extracts the
    few fields the analysis reads, so no snapshot or event payload is decoded whole."""
    return analyse(_subscription_fields(session), _subscription_transitions(session))


def _subscription_fields(session: Any) -> Iterator[dict[str, Any]]:
    """Each stored subscription as the fields `analyse` reads (status, trial, cancellation)."""
    stmt = select(
        StripeObject.id,
        q.D["status"].as_string(),
        q.D["trial_start"].as_integer(),
        q.D[("cancellation_details", "reason")].as_string(),
        q.D["cancel_at_period_end"].as_boolean(),
    ).where(StripeObject.object_type == "subscription")
    for sid, status, trial_start, reason, at_period_end in session.execute(
        stmt.execution_options(yield_per=ROWS_PER_READ)
    ):
        yield {
            "id": sid,
            "status": status,
            "trial_start": trial_start,
            "cancellation_details": {"reason": reason},
            "cancel_at_period_end": bool(at_period_end),
        }


def _subscription_transitions(session: Any) -> Iterator[dict[str, Any]]:
    """Each `customer.subscription.*` event as the fields `transitions` reads."""
    payload = Event.payload
    stmt = select(
        Event.type,
        Event.created,
        payload[("data", "object", "id")].as_string(),
        payload[("data", "object", "status")].as_string(),
        payload[("data", "previous_attributes", "status")].as_string(),
    ).where(Event.type.like("customer.subscription.%"))
    for kind, created, oid, status, prev in session.execute(
        stmt.execution_options(yield_per=ROWS_PER_READ)
    ):
        yield {
            "type": kind,
            "created": created,
            "data": {
                "object": {"id": oid, "status": status},
                "previous_attributes": {"status": prev},
            },
        }


ROWS_PER_READ = 200  # a read of small rows; the analysis keeps counts, not rows
