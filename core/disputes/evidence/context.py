"""Dispute facts: what the store knows about a disputed charge, gathered in one place.

For a dispute case, `gather()` collects the customer, the disputed charge, its invoice and
subscription, the customer's last 90 days of charges, earlier undisputed payments, refunds,
the product usage log, the shipment, support tickets and the operator's own evidence items.
The packet is built from these facts in core/disputes/evidence/packet.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.disputes.cases import stripe_object
from core.disputes.evidence.facts import FACTS, FactKey, facts_for
from core.models.context import HelpdeskTicket
from core.models.disputes import DisputeCase, EvidenceItem, ShipmentRecord, UsageRecord
from core.models.performance import data_charge, data_customer
from core.models.sync import StripeObject
from core.sync.invoice_shape import invoice_payment_intent_id, invoice_subscription_id
from core.sync.processing import batch_of

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
    # (packet version, narrative record) of the case's stored packets, newest first
    narratives: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


_JSON_FIELDS = {"customer": data_customer, "charge": data_charge}
_FACT_LISTS = {("charge", "customer"): "charges", ("invoice", "customer"): "invoices"}


def _objects(session: Session, object_type: str, **json_eq: str) -> list[dict[str, Any]]:
    """Stored objects of a type by indexed JSON fields (a customer's charges, ...): from the
    processing batch's facts when they hold them."""
    facts = batch_of(session).get(FACTS)
    if facts is not None and len(json_eq) == 1:
        ((key, value),) = json_eq.items()
        kept = getattr(facts, _FACT_LISTS.get((object_type, key), ""), None)
        if kept is not None and value in facts.customers:
            return [orjson.loads(text) for text in kept.get(value, [])]
    # Only indexed JSON fields (core/models/performance.py): the store holds millions of rows.
    q = select(StripeObject.data).where(StripeObject.object_type == object_type)
    for key, value in json_eq.items():
        q = q.where(_JSON_FIELDS[key](StripeObject.data) == value)
    return [dict(d) for d in session.scalars(q)]


def fact_key(case: DisputeCase, charge: dict[str, Any], customer: dict[str, Any]) -> FactKey:
    """What a case's facts are looked up by, given its charge and customer snapshots."""
    email = customer.get("email") or (charge.get("billing_details") or {}).get("email")
    embedded = [r for r in ((charge.get("refunds") or {}).get("data") or []) if isinstance(r, dict)]
    return FactKey(
        customer_id=case.customer_id or None,
        email=email.lower() if email else None,
        charge_id=case.charge_id,
        case_id=case.id,
        refunds_stored=not embedded and bool(case.charge_id),
        dispute_id=case.dispute_id,
    )


def case_charge(session: Session, case: DisputeCase) -> dict[str, Any]:
    """The disputed charge's snapshot (a stub when it is not stored)."""
    return stripe_object(session, case.charge_id) or {
        "id": case.charge_id,
        "created": case.stripe_created,
    }


def gather(session: Session, case: DisputeCase, now: int) -> PacketContext:
    """Collect the transaction history and imported proof for a case (from the processing
    batch's facts when it read them, see core/disputes/evidence/facts.py)."""
    charge = case_charge(session, case)
    customer = stripe_object(session, case.customer_id) or {}
    key = fact_key(case, charge, customer)
    facts = facts_for(session, key, batch_of(session).get(FACTS))
    charges = facts.charges if case.customer_id else [charge]
    invoice = None
    if case.customer_id and case.payment_intent_id:
        invoice = next(
            (
                inv
                for inv in facts.invoices
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
        refunds = facts.refunds
    usage = facts.usage if key.customer_id or key.email else []
    tickets = facts.tickets if key.customer_id or key.email else []
    # A shipment for this very charge wins; otherwise the customer's latest one.
    shipments = facts.shipments
    shipment = next(
        (s for s in shipments if s.charge_id == case.charge_id),
        shipments[-1] if shipments else None,
    )
    manual = facts.manual
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
        narratives=facts.narratives,
    )
