"""What the team can ask for from a failed-payment case: retry the invoice, cancel the
subscription, pause or restore access, or credit the customer. Each goes through the same
approval path (core/governance/requests.py), measured against the stored Stripe objects."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.errors import InputError
from core.governance import requests as desk
from core.governance.auth import Actor
from core.governance.policy import Policy
from core.governance.states import ActionType
from core.models.recovery import RecoveryCase
from core.recovery.cases import get_case

T = ActionType


@dataclass(frozen=True)
class CaseNeed:
    """One thing a case can ask for, and the Stripe object it acts on."""

    action_type: str
    label: str
    target_id: str | None
    takes_amount: bool = False


def needs_of(case: RecoveryCase) -> list[CaseNeed]:
    """What can be requested from this case, in the order the page offers it."""
    return [
        CaseNeed(T.RETRY_INVOICE_PAYMENT, "Retry the invoice payment now", case.invoice_id),
        CaseNeed(T.CANCEL_SUBSCRIPTION, "Cancel the subscription", case.subscription_id),
        CaseNeed(T.PAUSE_ACCESS, "Pause the customer's access", case.customer_id),
        CaseNeed(T.RESTORE_ACCESS, "Restore the customer's access", case.customer_id),
        CaseNeed(T.CUSTOMER_CREDIT, "Credit the customer's balance", case.customer_id, True),
    ]


def _need(case: RecoveryCase, action_type: str) -> CaseNeed:
    need = next((n for n in needs_of(case) if n.action_type == action_type), None)
    if need is None:
        raise InputError(f"{action_type} is not something a failed-payment case asks for.")
    if not need.target_id:
        raise InputError(
            f"Case #{case.id} has no Stripe object for this ({need.label.lower()}): "
            "its invoice names none."
        )
    return need


def case_terms(
    session: Session,
    case_id: int,
    action_type: str,
    *,
    amount: int | None = None,
    policy: Policy | None = None,
) -> desk.Terms:
    """The amount, approvals and rule of a request from this case, before it is made."""
    case = get_case(session, case_id)
    need = _need(case, action_type)
    return desk.terms(
        session,
        action_type,
        str(need.target_id),
        amount=amount,
        currency_from=case.invoice_id,
        policy=policy,
    )


def request_for_case(
    session: Session,
    actor: Actor,
    case_id: int,
    action_type: str,
    reason: str,
    *,
    amount: int | None = None,
    policy: Policy | None = None,
) -> desk.RequestOutcome:
    """Ask for one of the case's needs (operator or above, with a reason), audited."""
    case = get_case(session, case_id)
    need = _need(case, action_type)
    return desk.request(
        session,
        actor,
        action_type,
        str(need.target_id),
        reason,
        amount=amount,
        currency_from=case.invoice_id,
        source=f"recovery case #{case.id} ({case.invoice_id})",
        rule_id=f"recovery.{action_type}",
        policy=policy,
    )
