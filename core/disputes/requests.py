"""Refunds and credits asked for from the Disputes page: refunding a charge before it becomes a
dispute (an early fraud warning, a customer who asked), and a goodwill credit on a dispute's
customer. Both go through the approval path of core/governance/requests.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.disputes.cases import get_case, stripe_object
from core.governance import requests as desk
from core.governance.auth import Actor
from core.governance.policy import Policy
from core.governance.states import ActionType
from core.models.sync import StripeObject

EFW = "radar.early_fraud_warning"


@dataclass(frozen=True)
class WarningRow:
    """An early fraud warning whose charge can still be refunded (a dispute is likely)."""

    warning_id: str
    charge_id: str
    fraud_type: str
    refundable: int
    currency: str


def refundable_warnings(session: Session, limit: int = 200) -> list[WarningRow]:
    """Actionable early fraud warnings on charges not yet refunded or disputed, newest first."""
    rows = session.scalars(
        select(StripeObject.data)
        .where(StripeObject.object_type == EFW)
        .order_by(StripeObject.source_created.desc())
        .limit(limit)
    )
    out = []
    for efw in rows:
        if not efw.get("actionable"):
            continue
        ref = efw.get("charge")
        charge_id = str(ref.get("id") if isinstance(ref, dict) else ref or "")
        charge = stripe_object(session, charge_id) if charge_id else None
        if charge is None or charge.get("refunded") or charge.get("disputed"):
            continue
        left = int(charge.get("amount") or 0) - int(charge.get("amount_refunded") or 0)
        if left > 0:
            out.append(
                WarningRow(
                    str(efw.get("id")),
                    charge_id,
                    str(efw.get("fraud_type") or ""),
                    left,
                    str(charge.get("currency") or ""),
                )
            )
    return out


def credit_terms(
    session: Session, dispute_id: str, amount: int | None, *, policy: Policy | None = None
) -> desk.Terms:
    """A goodwill credit to the dispute's customer, in the dispute's currency, before asking."""
    case = get_case(session, dispute_id)
    return desk.terms(
        session,
        ActionType.CUSTOMER_CREDIT,
        case.customer_id or "",
        amount=amount,
        currency_from=case.charge_id,
        policy=policy,
    )


def request_credit(
    session: Session,
    actor: Actor,
    dispute_id: str,
    reason: str,
    *,
    amount: int,
    policy: Policy | None = None,
) -> desk.RequestOutcome:
    """Ask to credit the dispute's customer (operator or above, with a reason), audited."""
    case = get_case(session, dispute_id)
    return desk.request_credit(
        session,
        actor,
        case.customer_id or "",
        reason,
        amount=amount,
        currency_from=case.charge_id,
        source=f"dispute {dispute_id}",
        policy=policy,
    )


def request_refund(
    session: Session,
    actor: Actor,
    charge_id: str,
    reason: str,
    *,
    amount: int | None = None,
    policy: Policy | None = None,
) -> desk.RequestOutcome:
    """Ask to refund a charge before it is disputed (None: all that is left of it)."""
    return desk.request_refund(
        session,
        actor,
        charge_id,
        reason,
        amount=amount,
        source="disputes page (refund before a dispute)",
        policy=policy,
    )
