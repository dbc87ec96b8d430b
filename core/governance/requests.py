"""What an operator can ask for from the page where the need appears: a refund (full or partial)
or a customer credit, cancelling a subscription, pausing or restoring access, retrying an invoice.

Each need reads the Stripe object as the sync stored it (core/governance/request_plans.py), so the amount and currency the policy's
threshold is measured against are Stripe's, never the caller's: a refund without an amount is the
charge's whole refundable remainder (amount - amount_refunded) and counts as such; a currency
other than the object's is refused; a partial refund above the remainder is refused. The request
then goes through `request_action` (policy roles, reason, audit entry, and joining an open
request for the same action type and target). `terms` tells the form, before anything is
written, what the request would be: its amount, the approvals it needs and the rule why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from core.errors import InputError
from core.governance.actions import open_twin, request_action
from core.governance.auth import Actor, require_role
from core.governance.policy import Policy, load_policy
from core.governance.request_plans import Plan, plan
from core.governance.states import ActionType
from core.money import format_money

T = ActionType
LABELS = {
    T.REFUND: "refund",
    T.CUSTOMER_CREDIT: "customer credit",
    T.CANCEL_SUBSCRIPTION: "cancel subscription",
    T.PAUSE_ACCESS: "pause access",
    T.RESTORE_ACCESS: "restore access",
    T.RETRY_INVOICE_PAYMENT: "retry invoice payment",
}


@dataclass(frozen=True)
class Terms:
    """What the form shows: the amount, the approvals needed and the policy rule behind them."""

    action_type: str
    target_id: str
    amount: int | None
    currency: str | None
    approvals_needed: int
    rule: str
    limit: int | None = None
    open_request: int | None = None  # an open request this one would join
    policy_version: str = ""

    @property
    def amount_text(self) -> str:
        """The amount in major units with its currency ("—" when the action moves none)."""
        return format_money(self.amount, self.currency)


@dataclass(frozen=True)
class RequestOutcome:
    """What the page says after a request: which action, whether it joined one, who decides."""

    action_id: int
    status: str
    joined: bool
    terms: Terms
    notes: list[str] = field(default_factory=list)

    def message(self) -> str:
        """One line for the page."""
        t = self.terms
        what = LABELS.get(T(t.action_type), t.action_type)
        money = f" of {t.amount_text}" if t.amount is not None else ""
        who = "one approver" if t.approvals_needed == 1 else f"{t.approvals_needed} approvers"
        if t.approvals_needed == 0:
            who = "no approver"
        head = (
            f"Your request joined the open request #{self.action_id}"
            if self.joined
            else f"Requested as action #{self.action_id}"
        )
        return f"{head}: {what}{money} on {t.target_id}; needs {who} ({t.rule})."


def _open_request(session: Session, action_type: str, target_id: str) -> int | None:
    """The open request a new ask would join: the same rule `request_action` joins by."""
    twin = open_twin(session, ActionType(action_type), target_id)
    return twin.id if twin is not None else None


def rule_text(pol: Policy, action_type: str, currency: str | None) -> str:
    """The policy rule deciding how many approve, in the team's words."""
    rules = pol.for_action(action_type)
    if not rules.approval:
        return f"policy {pol.version}: no approval needed"
    limit = rules.threshold(currency)
    if limit is None or not currency:
        return f"policy {pol.version}: one approver, whatever the amount"
    return f"policy {pol.version}: above {format_money(limit, currency)} needs two approvers"


def terms_of(session: Session, p: Plan, policy: Policy | None = None) -> Terms:
    """The approvals a plan needs under the policy, and whether it would join an open request."""
    pol = policy or load_policy()
    rules = pol.for_action(p.action_type)
    return Terms(
        action_type=str(p.action_type),
        target_id=p.target_id,
        amount=p.amount,
        currency=p.currency,
        approvals_needed=rules.required_approvals(p.amount, p.currency),
        rule=rule_text(pol, p.action_type, p.currency),
        limit=p.limit,
        open_request=_open_request(session, p.action_type, p.target_id),
        policy_version=pol.version,
    )


def terms(
    session: Session,
    action_type: str,
    target_id: str,
    *,
    amount: int | None = None,
    currency: str | None = None,
    currency_from: str | None = None,
    policy: Policy | None = None,
) -> Terms:
    """What a request would be (amount, approvals, rule); raises what the request would refuse."""
    p = plan(
        session, action_type, target_id, amount=amount, currency=currency,
        currency_from=currency_from,
    )  # fmt: skip
    return terms_of(session, p, policy)


def request(
    session: Session,
    actor: Actor,
    action_type: str,
    target_id: str,
    reason: str,
    *,
    amount: int | None = None,
    currency: str | None = None,
    currency_from: str | None = None,
    source: str | None = None,
    rule_id: str | None = None,
    policy: Policy | None = None,
) -> RequestOutcome:
    """Ask for `action_type` on `target_id` (operator or above, with a reason), audited."""
    require_role(actor, "operator")
    if not reason or not reason.strip():
        raise InputError("Say why this is needed: a reason is required.")
    pol = policy or load_policy()
    p = plan(
        session, action_type, target_id, amount=amount, currency=currency,
        currency_from=currency_from,
    )  # fmt: skip
    if p.action_type == T.CUSTOMER_CREDIT and p.amount is None:
        raise InputError("Give the amount to credit.")
    before = terms_of(session, p, pol)
    evidence = dict(p.evidence) | ({"source": source} if source else {})
    evidence["amount_text"] = before.amount_text
    action = request_action(
        session,
        actor,
        action_type=str(p.action_type),
        target_id=p.target_id,
        params=p.params,
        reason=reason.strip(),
        rule_id=rule_id or f"desk.{p.action_type}",
        evidence=evidence,
        account=p.account,
        policy=pol,
    )
    joined = before.open_request is not None and action.id == before.open_request
    shown = before
    if joined:  # say what the open request is, not what this one asked for
        shown = replace(
            before,
            amount=action.amount,
            currency=action.currency,
            approvals_needed=action.required_approvals,
            rule=rule_text(pol, action.action_type, action.currency),
        )
    return RequestOutcome(action.id, action.status, joined, shown)


def request_refund(
    session: Session,
    actor: Actor,
    charge_id: str,
    reason: str,
    *,
    amount: int | None = None,
    currency: str | None = None,
    source: str | None = None,
    policy: Policy | None = None,
) -> RequestOutcome:
    """Refund a charge: `amount` (minor units) for part of it, None for all that is left."""
    return request(
        session, actor, T.REFUND, charge_id, reason, amount=amount, currency=currency,
        source=source, policy=policy,
    )  # fmt: skip


def request_credit(
    session: Session,
    actor: Actor,
    customer_id: str,
    reason: str,
    *,
    amount: int,
    currency: str | None = None,
    currency_from: str | None = None,
    source: str | None = None,
    policy: Policy | None = None,
) -> RequestOutcome:
    """Credit `amount` (minor units) to a customer's balance, in the customer's currency."""
    return request(
        session, actor, T.CUSTOMER_CREDIT, customer_id, reason, amount=amount, currency=currency,
        currency_from=currency_from, source=source, policy=policy,
    )  # fmt: skip


def request_cancel_subscription(
    session: Session, actor: Actor, subscription_id: str, reason: str, **kw: Any
) -> RequestOutcome:
    """Cancel a subscription now."""
    return request(session, actor, T.CANCEL_SUBSCRIPTION, subscription_id, reason, **kw)


def request_pause_access(
    session: Session, actor: Actor, customer: str, reason: str, **kw: Any
) -> RequestOutcome:
    """Pause a customer's access to the product."""
    return request(session, actor, T.PAUSE_ACCESS, customer, reason, **kw)


def request_restore_access(
    session: Session, actor: Actor, customer: str, reason: str, **kw: Any
) -> RequestOutcome:
    """Restore a customer's access to the product."""
    return request(session, actor, T.RESTORE_ACCESS, customer, reason, **kw)


def request_invoice_retry(
    session: Session, actor: Actor, invoice_id: str, reason: str, **kw: Any
) -> RequestOutcome:
    """Try to collect an open invoice now."""
    return request(session, actor, T.RETRY_INVOICE_PAYMENT, invoice_id, reason, **kw)
