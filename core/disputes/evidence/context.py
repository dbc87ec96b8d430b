"""Dispute facts: what the store knows about a disputed charge, gathered in one place.

For a dispute case, `gather()` collects the customer, the disputed charge, its invoice and
subscription, the customer's last 90 days of charges, earlier undisputed payments, refunds,
the product usage log, the shipment, support tickets and the operator's own evidence items.
The packet is built from these facts in core/disputes/evidence/packet.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.disputes.cases import stripe_object
from core.models.context import HelpdeskTicket
from core.models.disputes import DisputeCase, EvidenceItem, ShipmentRecord, UsageRecord
from core.models.performance import data_charge, data_customer
from core.models.sync import StripeObject
from core.sync.invoice_shape import invoice_payment_intent_id, invoice_subscription_id

DAY = 86_400


@dataclass
class PacketContext:
    """Everything the store knows that bears on one dispute."""

    case: DisputeCase
    charge: dict[str, Any]
    customer: dict[str, Any]
    invoice: dict[str, Any] | None
    subscription_id: str | None
    recent_charges: list[dict[str, Any]]
    prior_payments: list[dict[str, Any]]
    refunds: list[dict[str, Any]]
    usage: list[UsageRecord]
    shipment: ShipmentRecord | None
    tickets: list[HelpdeskTicket]
    manual: list[EvidenceItem]


_JSON_FIELDS = {"customer": data_customer, "charge": data_charge}


def _objects(session: Session, object_type: str, **json_eq: str) -> list[dict[str, Any]]:
    # Only indexed JSON fields (core/models/performance.py): the store holds millions of rows.
    q = select(StripeObject.data).where(StripeObject.object_type == object_type)
    for key, value in json_eq.items():
        q = q.where(_JSON_FIELDS[key](StripeObject.data) == value)
    return [dict(d) for d in session.scalars(q)]


def _customer_filter(
    column_id: Any, column_email: Any, customer_id: str | None, email: str | None
) -> Any:
    terms = []
    if customer_id:
        terms.append(column_id == customer_id)
    if email:
        terms.append(column_email == email.lower())
    return or_(*terms) if terms else None


def gather(session: Session, case: DisputeCase, now: int) -> PacketContext:
    """Collect the transaction history and imported proof for a case."""
    charge = stripe_object(session, case.charge_id) or {
        "id": case.charge_id,
        "created": case.stripe_created,
    }
    customer = stripe_object(session, case.customer_id) or {}
    charges = (
        _objects(session, "charge", customer=case.customer_id) if case.customer_id else [charge]
    )
    invoice = None
    if case.customer_id and case.payment_intent_id:
        invoice = next(
            (
                inv
                for inv in _objects(session, "invoice", customer=case.customer_id)
                if invoice_payment_intent_id(inv) == case.payment_intent_id
            ),
            None,
        )
    recent = sorted(
        (c for c in charges if int(c.get("created") or 0) >= now - 90 * DAY),
        key=lambda c: -int(c.get("created") or 0),
    )
    prior = sorted(
        (
            c
            for c in charges
            if c.get("status") == "succeeded"
            and not c.get("disputed")
            and not c.get("refunded")
            and c.get("id") != case.charge_id
            and int(c.get("created") or 0) < int(charge.get("created") or now)
        ),
        key=lambda c: int(c.get("created") or 0),
    )
    refunds = [r for r in ((charge.get("refunds") or {}).get("data") or []) if isinstance(r, dict)]
    if not refunds and case.charge_id:
        refunds = _objects(session, "refund", charge=case.charge_id)
    email = customer.get("email") or (charge.get("billing_details") or {}).get("email")
    usage: list[UsageRecord] = []
    tickets: list[HelpdeskTicket] = []
    shipment = None
    who = _customer_filter(
        UsageRecord.stripe_customer_id, UsageRecord.email, case.customer_id, email
    )
    if who is not None:
        usage = list(
            session.scalars(select(UsageRecord).where(who).order_by(UsageRecord.occurred_at))
        )
        who_t = _customer_filter(
            HelpdeskTicket.stripe_customer_id, HelpdeskTicket.email, case.customer_id, email
        )
        tickets = list(
            session.scalars(select(HelpdeskTicket).where(who_t).order_by(HelpdeskTicket.created_at))
        )
    ship_terms = [ShipmentRecord.charge_id == case.charge_id]
    who_s = _customer_filter(
        ShipmentRecord.stripe_customer_id, ShipmentRecord.email, case.customer_id, email
    )
    if who_s is not None:
        ship_terms.append(who_s)
    shipments = list(
        session.scalars(
            select(ShipmentRecord).where(or_(*ship_terms)).order_by(ShipmentRecord.shipped_at)
        )
    )
    # A shipment for this very charge wins; otherwise the customer's latest one.
    shipment = next(
        (s for s in shipments if s.charge_id == case.charge_id),
        shipments[-1] if shipments else None,
    )
    manual = list(
        session.scalars(
            select(EvidenceItem).where(EvidenceItem.case_id == case.id).order_by(EvidenceItem.id)
        )
    )
    return PacketContext(
        case=case,
        charge=charge,
        customer=customer,
        invoice=invoice,
        subscription_id=invoice_subscription_id(invoice) if invoice else None,
        recent_charges=recent,
        prior_payments=prior,
        refunds=refunds,
        usage=usage,
        shipment=shipment,
        tickets=tickets,
        manual=manual,
    )
