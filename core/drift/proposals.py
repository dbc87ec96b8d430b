"""The action a drift item calls for, proposed through the approval path instead of a task.

Access active in the product while Stripe says the subscription is canceled or unpaid → pause
that customer's access; access revoked while the subscription is paid → restore it. Items with
no Stripe-side action (CRM, bank, sync, approvals) open an internal task (checks.open_task).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.drift.checks import DriftItem
from core.errors import InputError
from core.governance import requests as desk
from core.governance.auth import Actor
from core.governance.policy import Policy
from core.governance.states import ActionType

PROPOSALS: dict[str, tuple[ActionType, str]] = {
    "entitlement_active_but_canceled": (ActionType.PAUSE_ACCESS, "Pause access"),
    "entitlement_revoked_but_paid": (ActionType.RESTORE_ACCESS, "Restore access"),
}


def proposal_for(item: DriftItem) -> tuple[ActionType, str] | None:
    """(action type, button label) for an item whose fix is an approved action, else None."""
    return PROPOSALS.get(item.check)


def _action(item: DriftItem) -> ActionType:
    found = proposal_for(item)
    if found is None:
        raise InputError(f"Drift check {item.check} proposes no action; open a task instead.")
    return found[0]


def proposal_terms(
    session: Session, item: DriftItem, *, policy: Policy | None = None
) -> desk.Terms:
    """The approvals and rule of the item's proposal, before it is made."""
    return desk.terms(session, _action(item), item.key, policy=policy)


def propose(
    session: Session, actor: Actor, item: DriftItem, reason: str, *, policy: Policy | None = None
) -> desk.RequestOutcome:
    """Request the item's action (operator or above, with a reason); joins an open one."""
    return desk.request(
        session,
        actor,
        _action(item),
        item.key,
        reason,
        source=f"drift {item.check}: {item.summary}",
        rule_id=f"drift.{item.check}",
        policy=policy,
    )
