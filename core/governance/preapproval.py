"""Pre-approval by a policy rule: the one way an action is approved without a person's click.

Only what `policy.PRE_APPROVABLE` names (customer e-mails from approved templates) can be
pre-approved, and only by a `[[recovery.sequences]]` rule the loaded policy contains; money moves
never. The action is still requested, approved and executed through the ordinary state machine,
so the executor re-reads Stripe and the outbox re-checks the case before anything is sent. The
approval is audited twice: `action.approved` by `policy:<rule id>` with the rule in its note, and
`action.pre_approved` with the rule, the policy version and what made it eligible.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from core.governance import audit
from core.governance.actions import request_action, transition
from core.governance.auth import SYSTEM_ACTOR
from core.governance.policy import PRE_APPROVABLE, Policy
from core.governance.states import MONEY_TYPES, ActionStatus, ActionType
from core.models.governance import ActionRequest

S = ActionStatus


def request_pre_approved(
    session: Session,
    policy: Policy,
    rule_id: str,
    *,
    target_id: str,
    params: dict[str, Any],
    reason: str,
    evidence: dict[str, Any],
    dedupe_key: str,
    account: str = "",
) -> tuple[ActionRequest, bool]:
    """Request the rule's action and approve it under the rule; (action, newly made).

    The same dedupe key returns the first action untouched (False), so a step is never sent
    twice whatever re-runs or races happen.
    """
    rule = policy.sequence(rule_id)
    if rule is None:
        raise PermissionDenied(
            f"No [[recovery.sequences]] rule {rule_id!r} in policy {policy.version}: "
            "nothing is pre-approved without one."
        )
    kind = ActionType(rule.action_type)
    if kind not in PRE_APPROVABLE or kind in MONEY_TYPES:
        raise PermissionDenied(f"{kind} can never be pre-approved; a person approves each one.")
    existing = session.scalar(select(ActionRequest).where(ActionRequest.dedupe_key == dedupe_key))
    if existing is not None:
        return existing, False  # this step was made before: never requested or approved again
    action = request_action(
        session,
        SYSTEM_ACTOR,
        action_type=kind,
        target_id=target_id,
        params=params,
        reason=reason,
        rule_id=rule.rule_id,
        policy_version=policy.version,
        evidence=evidence | {"pre_approved_by": rule.rule_id},
        account=account,
        dedupe_key=dedupe_key,
        policy=policy,
    )
    if action.dedupe_key != dedupe_key or action.status != S.REQUESTED:
        return action, False  # a concurrent run made it first
    transition(
        session,
        action,
        S.APPROVED,
        f"policy:{rule.rule_id}",
        required_approvals=0,
        note=f"pre-approved by policy rule {rule.rule_id} (policy {policy.version}); "
        "no per-message approval",
    )
    audit.record(
        session,
        f"policy:{rule.rule_id}",
        "action.pre_approved",
        f"action:{action.id}",
        None,
        {
            "rule_id": rule.rule_id,
            "policy_version": policy.version,
            "type": str(kind),
            "target": target_id,
            "evidence": evidence,
        },
    )
    return action, True
