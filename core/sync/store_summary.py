"""What is in the store at a glance: counts for the home page and `jobs status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models.sync import Event, StripeObject, SyncState


@dataclass(frozen=True)
class StoreSummary:
    """Counts of what has been synced so far."""

    events: int
    objects: int
    accounts_synced: int
    last_success_at: datetime | None

    @property
    def empty(self) -> bool:
        """True before the first successful sync."""
        return self.events == 0 and self.objects == 0


def store_summary(session: Session) -> StoreSummary:
    """Count events, snapshots and synced accounts."""
    events = session.scalar(select(func.count()).select_from(Event)) or 0
    objects = session.scalar(select(func.count()).select_from(StripeObject)) or 0
    accounts = session.scalar(select(func.count(func.distinct(SyncState.account)))) or 0
    last = session.scalar(select(func.max(SyncState.last_success_at)))
    return StoreSummary(int(events), int(objects), int(accounts), last)
