"""Reading what a request may be from the Stripe object as the sync stored it: the charge's
refundable remainder, the customer's currency, the subscription's and the invoice's status.
A refund without an amount is the whole remainder; a currency other than the object's, a partial
refund above the remainder, or an object that cannot be acted on is refused with the reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InputError, InvalidTransition, NotFound
from core.governance.states import ActionType
from core.models.sync import StripeObject
from core.money import format_money

T = ActionType

ENDED_SUBSCRIPTION = ("canceled", "incomplete_expired")


@dataclass(frozen=True)
class Plan:
    """A request as the stored Stripe object allows it, before it is made."""

    action_type: str
    target_id: str
    account: str
    params: dict[str, Any]
    evidence: dict[str, Any]
    amount: int | None = None
    currency: str | None = None
    limit: int | None = None  # most that may be asked for (a charge's refundable remainder)


def _stored(session: Session, object_id: str, kind: str, noun: str) -> tuple[dict[str, Any], str]:
    object_id = (object_id or "").strip()
    if not object_id:
        raise InputError(f"Give the {noun} id (it starts with the Stripe prefix, e.g. ch_).")
    row = session.execute(
        select(StripeObject.data, StripeObject.account, StripeObject.object_type).where(
            StripeObject.id == object_id
        )
    ).first()
    if row is None:
        raise NotFound(
            f"{noun.capitalize()} {object_id} is not synced: check the id, or wait for the next "
            "sync to bring it in."
        )
    data, account, object_type = row
    if object_type != kind:
        raise InputError(f"{object_id} is a {object_type}, not a {noun}.")
    return dict(data), account or ""


def _minor(amount: Any, what: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InputError(f"The {what} must be a positive amount.")
    return amount


def _same_currency(asked: str | None, actual: str, noun: str) -> None:
    if asked and str(asked).strip().lower() != actual.lower():
        raise InputError(
            f"The {noun} is in {actual.upper()}, not {str(asked).strip().upper()}: request the "
            f"amount in {actual.upper()}."
        )


def _refund_plan(
    session: Session, charge_id: str, amount: int | None, currency: str | None
) -> Plan:
    charge, account = _stored(session, charge_id, "charge", "charge")
    cur = str(charge.get("currency") or "").lower()
    _same_currency(currency, cur, "charge")
    remainder = int(charge.get("amount") or 0) - int(charge.get("amount_refunded") or 0)
    if charge.get("status") != "succeeded" or not charge.get("paid", True):
        raise InvalidTransition(
            f"Charge {charge['id']} did not succeed: there is nothing to refund."
        )
    if charge.get("refunded") or remainder <= 0:
        raise InvalidTransition(f"Charge {charge['id']} is already fully refunded.")
    if charge.get("disputed"):
        raise InvalidTransition(
            f"Charge {charge['id']} is disputed: answer the dispute on the Disputes page instead "
            "of refunding."
        )
    if amount is not None:
        _minor(amount, "refund amount")
        if amount > remainder:
            raise InputError(
                f"Only {format_money(remainder, cur)} of {charge['id']} is refundable; ask for "
                "that much or less (leave the amount empty for a full refund)."
            )
    params: dict[str, Any] = {"charge": charge["id"], "currency": cur}
    if amount is not None:
        params["amount"] = amount
    moves = remainder if amount is None else amount
    evidence = {
        "amount": moves,
        "currency": cur,
        "refundable": remainder,
        "full_refund": amount is None or amount == remainder,
        "customer": charge.get("customer"),
    }
    return Plan(T.REFUND, charge["id"], account, params, evidence, moves, cur, remainder)


def _credit_plan(
    session: Session,
    customer_id: str,
    amount: int | None,
    currency: str | None,
    currency_from: str | None,
) -> Plan:
    """A credit's currency is the customer's (or, before their first invoice, that of the object
    the need appeared on); its amount is the operator's, and the threshold counts all of it."""
    customer_id = (customer_id or "").strip()
    if not customer_id:
        raise InputError("This has no Stripe customer to credit.")
    row = session.execute(
        select(StripeObject.data, StripeObject.account).where(StripeObject.id == customer_id)
    ).first()
    customer, account = (dict(row[0]), row[1] or "") if row else ({}, "")
    if customer.get("deleted"):
        raise InvalidTransition(f"Customer {customer_id} was deleted in Stripe.")
    cur = str(customer.get("currency") or "").lower()
    if not cur and currency_from:
        source = session.execute(
            select(StripeObject.data, StripeObject.account).where(StripeObject.id == currency_from)
        ).first()
        if source is not None:
            cur = str(source[0].get("currency") or "").lower()
            account = account or source[1] or ""
    if not cur:
        raise NotFound(
            f"Customer {customer_id} is not synced with a currency yet; wait for the next sync."
        )
    _same_currency(currency, cur, "customer's balance")
    moves = _minor(amount, "credit amount") if amount is not None else None
    params: dict[str, Any] = {"customer": customer_id, "currency": cur}
    if moves is not None:
        params["amount"] = moves
    evidence = {"amount": moves, "currency": cur, "customer": customer_id}
    return Plan(T.CUSTOMER_CREDIT, customer_id, account, params, evidence, moves, cur)


def _cancel_plan(session: Session, subscription_id: str) -> Plan:
    sub, account = _stored(session, subscription_id, "subscription", "subscription")
    if sub.get("status") in ENDED_SUBSCRIPTION:
        raise InvalidTransition(f"Subscription {sub['id']} is already '{sub.get('status')}'.")
    customer = sub.get("customer")
    evidence = {"status": sub.get("status"), "customer": customer}
    return Plan(T.CANCEL_SUBSCRIPTION, sub["id"], account, {"subscription": sub["id"]}, evidence)


def _access_plan(session: Session, kind: ActionType, customer_ref: str) -> Plan:
    """Access lives in the product, not in Stripe: the target is the customer (or, for an
    entitlement known only by e-mail, that key); a deleted customer is refused."""
    ref = (customer_ref or "").strip()
    if not ref:
        raise InputError("Name the customer whose access changes.")
    row = session.execute(
        select(StripeObject.data, StripeObject.account).where(StripeObject.id == ref)
    ).first()
    if row is not None and row[0].get("deleted"):
        raise InvalidTransition(f"Customer {ref} was deleted in Stripe.")
    account = (row[1] or "") if row is not None else ""
    return Plan(kind, ref, account, {"customer": ref}, {"customer": ref})


def _retry_plan(session: Session, invoice_id: str) -> Plan:
    invoice, account = _stored(session, invoice_id, "invoice", "invoice")
    if invoice.get("status") != "open":
        raise InvalidTransition(
            f"Invoice {invoice['id']} is '{invoice.get('status')}': only an open invoice can "
            "be retried."
        )
    due = int(invoice.get("amount_remaining") or 0)
    cur = str(invoice.get("currency") or "").lower()
    evidence = {"amount": due, "currency": cur, "customer": invoice.get("customer")}
    return Plan(
        T.RETRY_INVOICE_PAYMENT, invoice["id"], account, {"invoice": invoice["id"]}, evidence,
        due, cur,
    )  # fmt: skip


def plan(
    session: Session,
    action_type: str,
    target_id: str,
    *,
    amount: int | None = None,
    currency: str | None = None,
    currency_from: str | None = None,
) -> Plan:
    """The request `action_type` on `target_id` would be, from the stored Stripe object."""
    try:
        kind = T(action_type)
    except ValueError:
        raise InputError(f"Unknown action type {action_type!r}.") from None
    planners: dict[ActionType, Callable[[], Plan]] = {
        T.REFUND: lambda: _refund_plan(session, target_id, amount, currency),
        T.CUSTOMER_CREDIT: lambda: _credit_plan(
            session, target_id, amount, currency, currency_from
        ),
        T.CANCEL_SUBSCRIPTION: lambda: _cancel_plan(session, target_id),
        T.PAUSE_ACCESS: lambda: _access_plan(session, T.PAUSE_ACCESS, target_id),
        T.RESTORE_ACCESS: lambda: _access_plan(session, T.RESTORE_ACCESS, target_id),
        T.RETRY_INVOICE_PAYMENT: lambda: _retry_plan(session, target_id),
    }
    if kind not in planners:
        raise InputError(f"{kind} is not requested from a page; use its own workflow.")
    return planners[kind]()
