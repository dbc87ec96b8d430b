"""Disputes' re-check for the outbox: a message about a dispute goes out only while the dispute
still awaits a response (its case, else the stored Stripe object, says so; and, when the outbox
passes a reader, the dispute as Stripe reports it now)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.adapters.outbox import Fetch, still_true
from core.models.disputes import OPEN_STATUSES, DisputeCase
from core.models.governance import OutboxMessage
from core.sync.snapshots import get_object


@still_true("dispute")
def dispute_still_open(
    session: Session, msg: OutboxMessage, dispute_id: str, fetch: Fetch | None = None
) -> str | None:
    """None while the dispute is open (needs a response)."""
    case = session.scalar(select(DisputeCase).where(DisputeCase.dispute_id == dispute_id))
    status = (
        case.status if case is not None else (get_object(session, dispute_id) or {}).get("status")
    )
    if status is not None and status not in OPEN_STATUSES:
        return f"Dispute {dispute_id} is '{status}' now, no longer awaiting a response."
    if fetch is not None:
        status = fetch("disputes", dispute_id).get("status")
        if status not in OPEN_STATUSES:
            return (
                f"Dispute {dispute_id} is '{status}' in Stripe now, no longer awaiting a response."
            )
    return None
