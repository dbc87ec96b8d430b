"""Subscription lifecycle: trial → active → past due → canceled / unpaid, and churn.

The pure functions take subscription snapshots and `customer.subscription.*` events as dicts;
`lifecycle_view(session, ...)` loads them from the store. MRR and MRR at risk are headline
figures with one definition each in core/books/figures.py; `subscription_mrr` here is the rule
for one subscription that its SQL twin (core/books/queries.py) follows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

STAGES = ("trialing", "active", "past_due", "unpaid", "canceled")
LIVE_STATUSES = ("trialing", "active", "past_due")  # counted in MRR
_PER_MONTH = {"day": 365 / 12, "week": 52 / 12, "month": 1.0, "year": 1 / 12}


def subscription_mrr(sub: dict[str, Any]) -> int:
    """Monthly recurring revenue of a subscription in minor units (0 unless live)."""
    if sub.get("status") not in LIVE_STATUSES:
        return 0
    total = 0.0
    for item in (sub.get("items") or {}).get("data") or []:
        price = item.get("price") or item.get("plan") or {}
        recurring = price.get("recurring") or {}
        interval = recurring.get("interval") or price.get("interval") or "month"
        count = recurring.get("interval_count") or price.get("interval_count") or 1
        unit = (
            price.get("unit_amount")
            if price.get("unit_amount") is not None
            else price.get("amount")
        )
        total += (unit or 0) * (item.get("quantity") or 1) * _PER_MONTH.get(interval, 1.0) / count
    return round(total)


def churn_kind(sub: dict[str, Any], previous_status: str | None = None) -> str:
    """'voluntary' (the customer asked) or 'involuntary' (payment failure) for a canceled sub."""
    reason = ((sub.get("cancellation_details") or {}).get("reason")) or ""
    if reason == "payment_failed" or previous_status in ("past_due", "unpaid"):
        return "involuntary"
    if reason == "cancellation_requested" or sub.get("cancel_at_period_end"):
        return "voluntary"
    return "involuntary" if sub.get("status") == "unpaid" else "voluntary"


@dataclass(frozen=True)
class Transition:
    """A subscription moving from one status to another on a day."""

    day: date
    subscription_id: str
    from_status: str | None
    to_status: str


def transitions(events: Iterable[dict[str, Any]]) -> Iterator[Transition]:
    """Status changes from customer.subscription.created / updated / deleted events."""
    for ev in events:
        obj = (ev.get("data") or {}).get("object") or {}
        prev = ((ev.get("data") or {}).get("previous_attributes") or {}).get("status")
        day = datetime.fromtimestamp(int(ev.get("created") or 0), UTC).date()
        kind = ev.get("type")
        if kind == "customer.subscription.created":
            yield Transition(day, obj.get("id", ""), None, obj.get("status") or "incomplete")
        elif kind == "customer.subscription.deleted":
            yield Transition(day, obj.get("id", ""), prev, "canceled")
        elif kind == "customer.subscription.updated" and prev and prev != obj.get("status"):
            yield Transition(day, obj.get("id", ""), prev, obj.get("status") or "")


@dataclass
class Lifecycle:
    """The lifecycle picture for a period."""

    funnel: dict[str, int] = field(default_factory=dict)
    monthly: list[dict[str, Any]] = field(default_factory=list)
    churn: dict[str, int] = field(default_factory=dict)


def analyse(subs: Iterable[dict[str, Any]], events: Iterable[dict[str, Any]]) -> Lifecycle:
    """Funnel by current status, transitions per month and churn split (pure).

    One pass over the events, then one over the subscriptions, each taken as it comes: what is
    held is a count per month and status, and the previous status of each canceled subscription,
    never the snapshots or the events themselves.
    """
    result = Lifecycle()
    prev_of: dict[str, str | None] = {}
    months: dict[str, Counter[str]] = {}
    for t in transitions(events):
        if t.to_status == "canceled":
            prev_of[t.subscription_id] = t.from_status
        months.setdefault(t.day.strftime("%Y-%m"), Counter())[t.to_status] += 1
    counts: Counter[str | None] = Counter()
    churn: Counter[str] = Counter()
    trialed = 0
    for s in subs:
        counts[s.get("status")] += 1
        trialed += 1 if s.get("trial_start") else 0
        if s.get("status") == "canceled":
            churn[churn_kind(s, prev_of.get(s.get("id", "")))] += 1
    result.funnel = {stage: counts.get(stage, 0) for stage in STAGES}
    result.funnel["ever_trialed"] = trialed
    result.churn = {
        "voluntary": churn["voluntary"],
        "involuntary": churn["involuntary"],
    }
    result.monthly = [
        {"month": m, **{stage: c.get(stage, 0) for stage in STAGES}}
        for m, c in sorted(months.items())
    ]
    return result
