"""Reading action requests: one action, its decisions, and the queues the pages show.

`why_not_decide` is the single place that says whether a person may decide on a request
(role per policy, four-eyes, status); the approve/reject services call it too.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session

from core.errors import NotFound, PermissionDenied
from core.governance.auth import Actor, has_role, require_role
from core.governance.policy import Policy, load_policy
from core.governance.states import OPEN, ActionStatus
from core.models.governance import ActionRequest, Approval

S = ActionStatus


def _policy(policy: Policy | None) -> Policy:
    return policy or load_policy()


def get_action(session: Session, action_id: int) -> ActionRequest:
    """The action request with this id, freshly read, or NotFound."""
    action = session.execute(
        select(ActionRequest)
        .where(ActionRequest.id == action_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if action is None:
        raise NotFound(f"Action #{action_id} does not exist.")
    return action


def why_not_decide(actor: Actor, action: ActionRequest, policy: Policy | None = None) -> str | None:
    """Why `actor` may not approve or reject `action` now, or None when they may."""
    if actor.is_system or actor.user_id is None:
        return "Only a signed-in person can approve or reject."
    pol = _policy(policy)
    if not pol.allows(action.action_type):
        return f"The policy no longer allows {action.action_type} (no [actions] section for it)."
    rules = pol.for_action(action.action_type)
    try:
        require_role(actor, *rules.roles)
    except PermissionDenied as exc:
        return str(exc)
    if actor.username == action.requested_by or (
        action.requested_by_id is not None and actor.user_id == action.requested_by_id
    ):
        return "You requested this action; someone else must decide on it (four-eyes rule)."
    if action.status != S.REQUESTED:
        return f"It is already '{action.status}'."
    return None


def approvals_of(session: Session, action_id: int) -> list[Approval]:
    """The decisions recorded on one action, oldest first."""
    return list(
        session.scalars(
            select(Approval).where(Approval.action_id == action_id).order_by(Approval.id)
        )
    )


def approvals_for(session: Session, action_ids: Iterable[int]) -> dict[int, list[Approval]]:
    """The decisions recorded on several actions at once (one query), oldest first per action."""
    ids = list(action_ids)
    out: dict[int, list[Approval]] = {i: [] for i in ids}
    if ids:
        rows = session.scalars(
            select(Approval).where(Approval.action_id.in_(ids)).order_by(Approval.id)
        )
        for row in rows:
            out[row.action_id].append(row)
    return out


def _awaiting_clause(actor: Actor, pol: Policy) -> ColumnElement[bool]:
    """SQL for "this person may decide on it now" (the same rules as why_not_decide)."""
    if actor.is_system or actor.user_id is None:
        return false()
    # Role per action type is policy, so it is resolved here into a list of types.
    types = [t for t, rules in pol.actions.items() if has_role(actor, *rules.roles)]
    if not types:
        return false()
    decided = exists().where(
        Approval.action_id == ActionRequest.id, Approval.username == actor.username
    )
    return and_(
        ActionRequest.status == S.REQUESTED.value,
        ActionRequest.action_type.in_(types),
        ActionRequest.requested_by != actor.username,
        or_(
            ActionRequest.requested_by_id.is_(None),
            ActionRequest.requested_by_id != actor.user_id,
        ),
        not_(decided),
    )


def awaiting(
    session: Session,
    actor: Actor,
    policy: Policy | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[ActionRequest]:
    """Requests this person may decide on now (their role fits; not their own; not yet decided by them)."""
    pol = _policy(policy)
    rows = session.scalars(
        select(ActionRequest)
        .where(_awaiting_clause(actor, pol))
        .order_by(ActionRequest.created_at, ActionRequest.id)
        .offset(offset)
        .limit(limit)
    ).all()
    # The SQL mirrors why_not_decide; the check stays the single source of truth.
    return [a for a in rows if why_not_decide(actor, a, pol) is None]


def count_awaiting(session: Session, actor: Actor, policy: Policy | None = None) -> int:
    """How many requests this person may decide on now (counted in SQL)."""
    clause = _awaiting_clause(actor, _policy(policy))
    return int(session.scalar(select(func.count()).select_from(ActionRequest).where(clause)) or 0)


def _in_flight_clause(actor: Actor, pol: Policy) -> ColumnElement[bool]:
    return and_(
        ActionRequest.status.in_([s.value for s in OPEN]), not_(_awaiting_clause(actor, pol))
    )


def in_flight(
    session: Session,
    actor: Actor,
    policy: Policy | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[ActionRequest]:
    """Open actions this person cannot decide on now (others' turn, or the executor's), oldest first."""
    return list(
        session.scalars(
            select(ActionRequest)
            .where(_in_flight_clause(actor, _policy(policy)))
            .order_by(ActionRequest.created_at, ActionRequest.id)
            .offset(offset)
            .limit(limit)
        )
    )


def count_in_flight(session: Session, actor: Actor, policy: Policy | None = None) -> int:
    """How many open actions are waiting on someone else or on the executor."""
    clause = _in_flight_clause(actor, _policy(policy))
    return int(session.scalar(select(func.count()).select_from(ActionRequest).where(clause)) or 0)


def open_actions(session: Session, limit: int = 200) -> list[ActionRequest]:
    """Every action still in flight (requested, approved, executing), oldest first."""
    return list(
        session.scalars(
            select(ActionRequest)
            .where(ActionRequest.status.in_([s.value for s in OPEN]))
            .order_by(ActionRequest.created_at)
            .limit(limit)
        )
    )


def recent_outcomes(session: Session, limit: int = 50) -> list[ActionRequest]:
    """Recently finished actions (succeeded, failed, rejected, expired, superseded), newest first."""
    return list(
        session.scalars(
            select(ActionRequest)
            .where(ActionRequest.finished_at.is_not(None))
            .order_by(ActionRequest.finished_at.desc())
            .limit(limit)
        )
    )
