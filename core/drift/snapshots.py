"""The Drift page's read model: the latest recorded counts and their saved drill-down lists.

`core.drift.checks.take_snapshot` (the hourly books job, or the page's "Refresh now") runs the checks and
stores, per check and day, the count, the metric and up to ITEM_CAP items. The page reads only
these rows, so its cost does not grow with the number of customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.drift.checks import CHECK_ORDER, ITEM_CAP, DriftItem
from core.models.books import DriftSnapshot


@dataclass(frozen=True)
class SavedCheck:
    """One check as last recorded: its count, metric and when it was taken."""

    name: str
    title: str
    area: str
    count: int
    metric: dict[str, Any]
    day: date
    taken_at: datetime

    @property
    def stored_items(self) -> int:
        """How many of the items the snapshot kept for the drill-down."""
        return min(self.count, ITEM_CAP)


def latest(session: Session) -> list[SavedCheck]:
    """Each check's most recent snapshot (one small read; the items stay in the database)."""
    newest = (
        select(DriftSnapshot.check, func.max(DriftSnapshot.day).label("day"))
        .group_by(DriftSnapshot.check)
        .subquery()
    )
    details = DriftSnapshot.details
    stmt = select(
        DriftSnapshot.check,
        DriftSnapshot.count,
        DriftSnapshot.day,
        DriftSnapshot.taken_at,
        details["title"].as_string(),
        details["area"].as_string(),
        details["metric"],
    ).join(
        newest,
        (newest.c.check == DriftSnapshot.check) & (newest.c.day == DriftSnapshot.day),
    )
    order = {name: i for i, name in enumerate(CHECK_ORDER)}
    rows = [
        SavedCheck(name, title or name, area or "", n, metric or {}, day, taken)
        for name, n, day, taken, title, area, metric in session.execute(stmt)
    ]
    return sorted(rows, key=lambda r: (order.get(r.name, len(order)), r.name))


def saved_items(session: Session, name: str, limit: int = 50, offset: int = 0) -> list[DriftItem]:
    """One page of a check's items from its latest snapshot."""
    data = session.scalar(
        select(DriftSnapshot.details)
        .where(DriftSnapshot.check == name)
        .order_by(DriftSnapshot.day.desc())
        .limit(1)
    )
    items = (data or {}).get("items") or []
    return [DriftItem(**i) for i in items[offset : offset + limit]]
