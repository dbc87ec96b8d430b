"""Bulk approval: many requests of one type, one reason, each recorded as its own approval.

`approve_many` calls `actions.approve` once per request, each in its own savepoint, so every
request gets the same checks as a single click (role, four-eyes, status, expiry) and its own
`Approval` row and audit entries; one refused request never spoils the others. Requests that
need two approvers are left out with a note: those are decided one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import CoreError, InputError
from core.governance.actions import approve
from core.governance.auth import Actor
from core.governance.policy import Policy, load_policy
from core.models.governance import ActionRequest

MAX_BULK = 200
TWO_APPROVERS_NOTE = "needs two approvers: decide it on its own"


@dataclass(frozen=True)
class BulkOutcome:
    """What happened to one selected request."""

    action_id: int
    outcome: str  # approved | recorded | excluded | refused
    note: str


def needs_two(action: ActionRequest, policy: Policy) -> bool:
    """Whether the request needs two approvers (then it is never approved in bulk)."""
    if action.required_approvals >= 2:
        return True
    if not policy.allows(action.action_type):
        return False
    rules = policy.for_action(action.action_type)
    return rules.required_approvals(action.amount, action.currency) >= 2


def approve_many(
    session: Session,
    actor: Actor,
    action_ids: Iterable[int],
    reason: str,
    *,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> list[BulkOutcome]:
    """Approve each selected request with the one reason; per-request outcomes, in order."""
    pol = policy or load_policy()
    ids = list(dict.fromkeys(int(i) for i in action_ids))
    if not ids:
        raise InputError("Select at least one request to approve.")
    if len(ids) > MAX_BULK:
        raise InputError(f"Approve at most {MAX_BULK} requests at once; select fewer.")
    if not reason or not reason.strip():
        raise InputError("A reason is required; it is recorded on every approval.")
    rows = {
        a.id: a for a in session.scalars(select(ActionRequest).where(ActionRequest.id.in_(ids)))
    }
    types = sorted({a.action_type for a in rows.values()})
    if len(types) > 1:
        raise InputError(
            f"Select requests of one type to approve together (the selection has {', '.join(types)})."
        )
    outcomes: list[BulkOutcome] = []
    for action_id in ids:
        action = rows.get(action_id)
        if action is None:
            outcomes.append(BulkOutcome(action_id, "refused", "does not exist"))
            continue
        if needs_two(action, pol):
            outcomes.append(BulkOutcome(action_id, "excluded", TWO_APPROVERS_NOTE))
            continue
        try:
            with session.begin_nested():
                done = approve(session, actor, action_id, reason, policy=pol, now=now)
        except CoreError as exc:
            outcomes.append(BulkOutcome(action_id, "refused", str(exc)))
            continue
        if done.status == "approved":
            outcomes.append(BulkOutcome(action_id, "approved", "approved"))
        else:
            outcomes.append(BulkOutcome(action_id, "recorded", f"still {done.status}"))
    return outcomes


def summary(outcomes: list[BulkOutcome]) -> str:
    """One line for the page: how many were approved, left out and refused."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    words = {
        "approved": "approved",
        "recorded": "approval recorded",
        "excluded": "left out (two approvers needed)",
        "refused": "refused",
    }
    return "; ".join(f"{n} {words[k]}" for k, n in counts.items())
