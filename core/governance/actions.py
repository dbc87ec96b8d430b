"""Action requests: request, approve, reject, expire and supersede — with permissions checked
here, in core, whatever the UI shows.

Every status change is one conditional UPDATE (`... WHERE id = :id AND status = :expected`)
whose row count must be 1, so two approvers clicking at once, or a double click, produce exactly
one transition; the loser gets a ConflictError. Approvals first take the row with a
version-bumping UPDATE, which serialises concurrent deciders on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import (
    ConflictError,
    InputError,
    InvalidTransition,
    PermissionDenied,
)
from core.governance import audit
from core.governance.auth import Actor, require_role
from core.governance.policy import Policy, load_policy
from core.governance.queries import get_action, why_not_decide
from core.governance.states import ActionStatus, ActionType, check_transition
from core.models.base import utcnow
from core.models.governance import ActionRequest, Approval

S = ActionStatus
# Types where a second open request on the same target joins the first instead of doubling the
# decisions (two early fraud warnings on one charge, two operators asking for one refund).
JOINING_TYPES = frozenset(
    {
        ActionType.REFUND,
        ActionType.CUSTOMER_CREDIT,
        ActionType.ACCEPT_DISPUTE,
        ActionType.CANCEL_SUBSCRIPTION,
        ActionType.PAUSE_ACCESS,
        ActionType.RESTORE_ACCESS,
        ActionType.RETRY_INVOICE_PAYMENT,
    }
)


def _rowcount(result: Any) -> int:
    # UPDATE results carry rowcount (CursorResult); the generic Result type does not say so.
    return int(getattr(result, "rowcount", 0) or 0)


def _policy(policy: Policy | None) -> Policy:
    return policy or load_policy()


def _amount(params: dict[str, Any], evidence: dict[str, Any]) -> tuple[int | None, str | None]:
    amount = params.get("amount", evidence.get("amount"))
    currency = params.get("currency", evidence.get("currency"))
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise InputError("amount must be a whole number of minor units (cents).")
    return amount, (str(currency).lower()[:3] if currency else None)


def snapshot(action: ActionRequest) -> dict[str, Any]:
    """The audit view of an action: what matters to compare before and after."""
    return {
        "status": action.status,
        "type": action.action_type,
        "target": action.target_id,
        "amount": action.amount,
        "currency": action.currency,
        "version": action.version,
    }


def transition(
    session: Session,
    action: ActionRequest,
    new: ActionStatus,
    actor: Actor | str,
    *,
    note: str | None = None,
    **values: Any,
) -> ActionRequest:
    """Move `action` to `new` with one conditional UPDATE; ConflictError if someone moved it first."""
    expected = action.status
    check_transition(expected, new)
    before = snapshot(action)
    now = utcnow()
    terminal = {S.SUCCEEDED, S.FAILED, S.REJECTED, S.EXPIRED, S.SUPERSEDED}
    if new in terminal:
        values.setdefault("finished_at", now)
        values["open_key"] = None  # the need is settled: a new request may open again
    if note is not None:
        values["outcome_note"] = note
    result = session.execute(
        update(ActionRequest)
        .where(ActionRequest.id == action.id, ActionRequest.status == expected)
        .values(
            status=new.value,
            version=ActionRequest.version + 1,
            updated_at=now,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        current = session.scalar(select(ActionRequest.status).where(ActionRequest.id == action.id))
        raise ConflictError(
            f"Action #{action.id} was just changed by someone else (it is now '{current}'); reload."
        )
    session.refresh(action)
    after = snapshot(action) | ({"note": note} if note else {})
    audit.record(session, actor, f"action.{new.value}", f"action:{action.id}", before, after)
    return action


def open_twin(session: Session, kind: ActionType, target_id: str) -> ActionRequest | None:
    """The open request for the same need (type and target), if there is one."""
    return session.scalar(
        select(ActionRequest)
        .where(
            ActionRequest.action_type == kind.value,
            ActionRequest.target_id == target_id,
            ActionRequest.status.in_([S.REQUESTED.value, S.APPROVED.value, S.EXECUTING.value]),
        )
        .order_by(ActionRequest.id)
        .limit(1)
    )


def _join(
    session: Session,
    actor: Actor,
    twin: ActionRequest,
    reason: str,
    rule_id: str | None,
    params: dict[str, Any],
) -> ActionRequest:
    """One open request per (type, target): a second ask joins the first, so the approvers
    decide once and the executor acts once."""
    audit.record(
        session,
        actor,
        "action.joined",
        f"action:{twin.id}",
        None,
        {"reason": reason.strip(), "rule_id": rule_id, "params": dict(params)},
    )
    return twin


def request_action(
    session: Session,
    actor: Actor,
    *,
    action_type: str,
    target_id: str,
    params: dict[str, Any],
    reason: str,
    rule_id: str | None = None,
    policy_version: str | None = None,
    evidence: dict[str, Any] | None = None,
    account: str = "",
    dedupe_key: str | None = None,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> ActionRequest:
    """Ask for an action; with a dedupe_key a repeated request returns the first one."""
    try:
        kind = ActionType(action_type)
    except ValueError:
        raise InputError(
            f"Unknown action type {action_type!r}: use one of {', '.join(ActionType)}."
        ) from None
    pol = _policy(policy)
    rules = pol.for_action(kind)
    if not actor.is_system:
        require_role(actor, *rules.request_roles)
    if not reason or not reason.strip():
        raise InputError("Say why this action is needed: a reason is required.")
    if not target_id:
        raise InputError("An action needs the Stripe object it acts on (target_id).")
    if dedupe_key:
        existing = session.scalar(
            select(ActionRequest).where(ActionRequest.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return existing
    open_key = f"{kind.value}:{target_id}" if kind in JOINING_TYPES else None
    if open_key is not None:
        twin = open_twin(session, kind, target_id)
        if twin is not None:
            return _join(session, actor, twin, reason, rule_id, params)
    evidence = dict(evidence or {})
    amount, currency = _amount(params, evidence)
    now = now or utcnow()
    action = ActionRequest(
        action_type=kind.value,
        account=account or "",
        target_id=target_id,
        params=dict(params),
        reason=reason.strip(),
        rule_id=rule_id,
        policy_version=policy_version or pol.version,
        evidence=evidence,
        amount=amount,
        currency=currency,
        requested_by=actor.username,
        requested_by_id=actor.user_id,
        required_approvals=rules.required_approvals(amount, currency),
        status=S.REQUESTED.value,
        version=1,
        dedupe_key=dedupe_key,
        open_key=open_key,
        attempts=0,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=rules.expires_after_hours),
    )
    try:
        # a concurrent twin with the same dedupe_key, or for the same open need, loses cleanly
        with session.begin_nested():
            session.add(action)
            session.flush()
    except IntegrityError:
        if dedupe_key:
            existing = session.scalar(
                select(ActionRequest).where(ActionRequest.dedupe_key == dedupe_key)
            )
            if existing is not None:
                return existing
        twin = open_twin(session, kind, target_id) if open_key is not None else None
        if twin is None:
            raise
        return _join(session, actor, twin, reason, rule_id, params)
    audit.record(
        session,
        actor,
        "action.requested",
        f"action:{action.id}",
        None,
        snapshot(action)
        | {
            "reason": action.reason,
            "rule_id": rule_id,
            "policy_version": action.policy_version,
        },
    )
    if action.required_approvals == 0:
        transition(
            session,
            action,
            S.APPROVED,
            actor,
            note=f"no approval needed under policy {pol.version}",
        )
    return action


def _decide_checks(
    session: Session,
    actor: Actor,
    action_id: int,
    reason: str,
    pol: Policy,
    now: datetime,
) -> ActionRequest:
    action = get_action(session, action_id)
    if action.status != S.REQUESTED:
        raise InvalidTransition(f"Action #{action_id} is already '{action.status}'; reload.")
    problem = why_not_decide(actor, action, pol)
    if problem:
        raise PermissionDenied(problem)
    if not reason or not reason.strip():
        raise InputError("A reason is required for every approval or rejection.")
    if action.expires_at and action.expires_at <= now:
        raise InvalidTransition(
            f"Action #{action_id} expired at {action.expires_at:%Y-%m-%d %H:%M} UTC."
        )
    # Take the row: concurrent deciders queue here, and the loser sees the new status.
    locked = session.execute(
        update(ActionRequest)
        .where(ActionRequest.id == action_id, ActionRequest.status == S.REQUESTED.value)
        .values(version=ActionRequest.version + 1)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(locked) != 1:
        raise ConflictError(f"Action #{action_id} was just decided by someone else; reload.")
    session.refresh(action)
    if session.scalar(
        select(func.count()).where(
            Approval.action_id == action_id, Approval.username == actor.username
        )
    ):
        raise ConflictError(f"You already decided on action #{action_id}.")
    return action


def _record_decision(
    session: Session,
    actor: Actor,
    action_id: int,
    reason: str,
    pol: Policy,
    now: datetime | None,
    decision: str,
) -> ActionRequest:
    """Check that `actor` may decide, then store their approve / reject with the policy version."""
    action = _decide_checks(session, actor, action_id, reason, pol, now or utcnow())
    session.add(
        Approval(
            action_id=action.id,
            user_id=actor.user_id,
            username=actor.username,
            role=actor.role,
            decision=decision,
            reason=reason.strip(),
            policy_version=pol.version,
        )
    )
    session.flush()
    return action


def approve(
    session: Session,
    actor: Actor,
    action_id: int,
    reason: str,
    *,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> ActionRequest:
    """Record an approval; the action becomes `approved` once the policy's approvers have agreed."""
    pol = _policy(policy)
    action = _record_decision(session, actor, action_id, reason, pol, now, "approve")
    required = max(
        1,
        pol.for_action(action.action_type).required_approvals(action.amount, action.currency),
    )
    approvals = (
        session.scalar(
            select(func.count()).where(
                Approval.action_id == action.id, Approval.decision == "approve"
            )
        )
        or 0
    )
    if approvals >= required:
        return transition(
            session,
            action,
            S.APPROVED,
            actor,
            required_approvals=required,
            note=f"approved by {approvals} of {required} under policy {pol.version}",
        )
    audit.record(
        session,
        actor,
        "action.approval_recorded",
        f"action:{action.id}",
        snapshot(action),
        snapshot(action) | {"approvals": approvals, "required": required, "reason": reason.strip()},
    )
    return action


def reject(
    session: Session,
    actor: Actor,
    action_id: int,
    reason: str,
    *,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> ActionRequest:
    """Reject a request (one rejection suffices); the reason is kept for the requester."""
    pol = _policy(policy)
    action = _record_decision(session, actor, action_id, reason, pol, now, "reject")
    return transition(
        session,
        action,
        S.REJECTED,
        actor,
        note=f"rejected by {actor.username}: {reason.strip()}",
    )


def supersede(session: Session, actor: Actor | str, action_id: int, reason: str) -> ActionRequest:
    """Mark an open action as overtaken by events (e.g. the invoice was paid meanwhile)."""
    action = get_action(session, action_id)
    return transition(session, action, S.SUPERSEDED, actor, note=reason)


def supersede_open_for_target(
    session: Session,
    actor: Actor | str,
    target_id: str,
    reason: str,
    action_types: tuple[str, ...] | None = None,
) -> int:
    """Supersede every request/approved action on `target_id` (optionally only some types)."""
    q = select(ActionRequest).where(
        ActionRequest.target_id == target_id,
        ActionRequest.status.in_([S.REQUESTED.value, S.APPROVED.value]),
    )
    if action_types:
        q = q.where(ActionRequest.action_type.in_(list(action_types)))
    count = 0
    for action in session.scalars(q).all():
        try:
            transition(session, action, S.SUPERSEDED, actor, note=reason)
            count += 1
        except ConflictError:
            continue
    return count


def expire_due(session: Session, now: datetime | None = None) -> int:
    """Expire requests nobody decided on in time; returns how many."""
    now = now or utcnow()
    due = session.scalars(
        select(ActionRequest).where(
            ActionRequest.status == S.REQUESTED.value, ActionRequest.expires_at <= now
        )
    ).all()
    count = 0
    for action in due:
        try:
            transition(
                session,
                action,
                S.EXPIRED,
                "system",
                note="nobody decided before it expired",
            )
            count += 1
        except ConflictError:
            continue
    return count
