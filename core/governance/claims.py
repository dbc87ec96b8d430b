"""Claiming approved actions for execution: one worker per action, reclaimed after a lease.

`claim_next` reads the oldest due action `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite's single
writer serialises claims anyway), so any number of `jobs execute` workers share one database and
each takes a different action; the conditional transition in `take` still guards every claim. A
claim saves the action's idempotency key before Stripe is called, so a crashed attempt reclaimed
after its lease sends the same key and Stripe replays the first response.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.errors import CoreError
from core.governance import audit
from core.governance.actions import snapshot, transition
from core.governance.auth import SYSTEM_ACTOR, Actor
from core.governance.queries import get_action
from core.governance.states import ActionStatus
from core.models.base import utcnow
from core.models.governance import ActionRequest

S = ActionStatus
DEFAULT_LEASE_SECONDS = 300


def _rowcount(result: Any) -> int:
    # UPDATE results carry rowcount (CursorResult); the generic Result type does not say so.
    return int(getattr(result, "rowcount", 0) or 0)


def idempotency_key_for(action: ActionRequest) -> str:
    """The Stripe idempotency key of an action: stable across retries and crashes.

    The creation time (microseconds) is part of it because action ids restart in every
    database, and two installations (staging and production) may share one Stripe account.
    """
    micros = int(action.created_at.timestamp() * 1_000_000)
    return f"ld-action-{action.id}-{micros:x}"


def reclaimable(now: datetime, lease: timedelta) -> Any:
    return and_(
        ActionRequest.status == S.EXECUTING.value,
        or_(
            and_(ActionRequest.claimed_at.is_(None), ActionRequest.next_attempt_at <= now),
            ActionRequest.claimed_at <= now - lease,
        ),
    )


def claim(
    Session: sessionmaker[Session],
    action_id: int,
    *,
    actor: Actor = SYSTEM_ACTOR,
    now: datetime | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> bool:
    """Take one action for execution (commits); False if someone else has it or it is not due."""
    now = now or utcnow()
    with Session.begin() as session:
        return take(session, action_id, actor, now, timedelta(seconds=lease_seconds))


def claim_next(
    Session: sessionmaker[Session],
    *,
    actor: Actor = SYSTEM_ACTOR,
    now: datetime | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> int | None:
    """Take the oldest due action no other worker holds (commits); None when none is left.

    The row is read `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite's single writer serialises
    claims anyway), so workers sharing a database each take a different action without waiting
    on each other; the conditional transition in `take` still guards the claim.
    """
    now = now or utcnow()
    lease = timedelta(seconds=lease_seconds)
    with Session.begin() as session:
        action_id = session.scalar(
            due(now, lease).limit(1).with_for_update(skip_locked=True, of=ActionRequest)
        )
        if action_id is None:
            return None
        return action_id if take(session, action_id, actor, now, lease) else None


def take(session: Session, action_id: int, actor: Actor, now: datetime, lease: timedelta) -> bool:
    """`approved → executing`, or reclaim an interrupted attempt; False if it is not ours."""
    action = get_action(session, action_id)
    key = action.idempotency_key or idempotency_key_for(action)
    if action.status == S.APPROVED:
        try:
            transition(
                session,
                action,
                S.EXECUTING,
                actor,
                idempotency_key=key,
                key_saved_at=action.key_saved_at or now,
                claimed_at=now,
                attempts=ActionRequest.attempts + 1,
                next_attempt_at=None,
            )
        except CoreError:
            return False
        return True
    if action.status != S.EXECUTING:
        return False
    # A crashed or failed-transiently attempt: reclaim it once (the version guards the race).
    result = session.execute(
        update(ActionRequest)
        .where(
            ActionRequest.id == action_id,
            ActionRequest.version == action.version,
            reclaimable(now, lease),
        )
        .values(
            claimed_at=now,
            attempts=ActionRequest.attempts + 1,
            version=ActionRequest.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return False
    session.refresh(action)
    audit.record(
        session,
        actor,
        "action.retry",
        f"action:{action.id}",
        None,
        snapshot(action) | {"attempt": action.attempts, "idempotency_key": key},
    )
    return True


def due(now: datetime, lease: timedelta) -> Any:
    """Approved actions, and executing ones whose attempt is due again, oldest first."""
    return (
        select(ActionRequest.id)
        .where(
            or_(
                and_(
                    ActionRequest.status == S.APPROVED.value,
                    # an action returned unspent (key not allowed) waits for its pause
                    or_(
                        ActionRequest.next_attempt_at.is_(None),
                        ActionRequest.next_attempt_at <= now,
                    ),
                ),
                reclaimable(now, lease),
            )
        )
        .order_by(ActionRequest.id)
    )
