"""Which briefs the model writes ahead: what people will open next, most urgent first.

Requests waiting for approval (oldest first), disputes still to be answered (nearest deadline
first), then open recovery cases (highest priority first). Lists of many cards show what was
written ahead and never make people wait for the model.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.governance.states import ActionStatus
from core.models.disputes import OPEN_STATUSES, DisputeCase
from core.models.governance import ActionRequest
from core.models.recovery import RecoveryCase

PER_KIND = 100  # how far down each list the job looks in one run


def subjects_ahead(session: Session, per_kind: int = PER_KIND) -> list[tuple[str, int]]:
    """(kind, row id) pairs for the briefs job, most urgent first."""
    requests = session.scalars(
        select(ActionRequest.id)
        .where(ActionRequest.status == ActionStatus.REQUESTED.value)
        .order_by(ActionRequest.id)
        .limit(per_kind)
    )
    disputes = session.scalars(
        select(DisputeCase.id)
        .where(DisputeCase.status.in_(OPEN_STATUSES))
        .order_by(DisputeCase.due_by.is_(None), DisputeCase.due_by, DisputeCase.id)
        .limit(per_kind)
    )
    cases = session.scalars(
        select(RecoveryCase.id)
        .where(RecoveryCase.status == "open")
        .order_by(RecoveryCase.priority.desc(), RecoveryCase.id)
        .limit(per_kind)
    )
    return (
        [("request", i) for i in requests]
        + [("dispute", i) for i in disputes]
        + [("recovery_case", i) for i in cases]
    )
