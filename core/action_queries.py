"""Reading action requests: one action, its decisions, and the queues the pages show.

`why_not_decide` is the single place that says whether a person may decide on a request
(role per policy, four-eyes, status); the approve/reject services call it too.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.action_states import OPEN, ActionStatus
from core.auth import Actor, require_role
from core.errors import NotFound, PermissionDenied
from core.models.governance import ActionRequest, Approval
from core.policy import Policy, load_policy

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
    rules = _policy(policy).for_action(action.action_type)
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


def awaiting(
    session: Session, actor: Actor, policy: Policy | None = None, limit: int = 200
) -> list[ActionRequest]:
    """Requests this person may decide on now (their role fits; not their own; not yet decided by them)."""
    pol = _policy(policy)
    rows = session.scalars(
        select(ActionRequest)
        .where(ActionRequest.status == S.REQUESTED.value)
        .order_by(ActionRequest.created_at)
        .limit(limit)
    ).all()
    mine = set(
        session.scalars(select(Approval.action_id).where(Approval.username == actor.username))
    )
    return [a for a in rows if a.id not in mine and why_not_decide(actor, a, pol) is None]


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
