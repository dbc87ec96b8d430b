"""Which invoice a failed charge or payment intent belongs to, and its decline fields.

Pre-2025 objects name their invoice (`charge.invoice`, `invoice.charge`); current-shape invoice
events do not carry `payments` unless expanded, and charges no longer name their invoice. The
attempt's charge.failed is emitted seconds before the invoice event, so the link falls back to
the same customer's failed charge of the same amount nearby in time that no other case claims.
Decline fields are read from the stored events themselves (Stripe clears `last_payment_error`
on the next update of the payment intent).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models.recovery import RecoveryCase
from core.models.sync import Event
from core.recovery.classification import facts_from_stripe
from core.sync.invoice_shape import invoice_charge_id, invoice_payment_intent_id
from core.sync.processing import EventContext
from core.sync.snapshots import get_object


class StoredEvent(NamedTuple):
    """The columns of a stored event the recovery code reads (no ORM object per lookup)."""

    type: str
    created: int
    event_id: str
    payload: dict[str, Any]


_COLUMNS = (Event.type, Event.created, Event.event_id, Event.payload)


def latest_event(
    session: Session, object_id: str | None, types: tuple[str, ...]
) -> StoredEvent | None:
    """The newest stored event of these types about one object."""
    if not object_id:
        return None
    row = session.execute(
        select(*_COLUMNS)
        .where(Event.object_id == object_id, Event.type.in_(types))
        .order_by(Event.created.desc(), Event.id.desc())
        .limit(1)
    ).first()
    return StoredEvent(*row) if row is not None else None


def event_object(row: StoredEvent | None) -> dict[str, Any] | None:
    """The event's data.object."""
    if row is None:
        return None
    data = (row.payload or {}).get("data") or {}
    obj = data.get("object")
    return obj if isinstance(obj, dict) else None


def _nearby_failed_charge(
    session: Session, inv: dict[str, Any], pi_id: str | None, event: EventContext
) -> dict[str, Any] | None:
    # Current-shape invoice events do not carry `payments` unless expanded. The attempt's
    # charge.failed is emitted just before the invoice event: take the nearest earlier stored
    # one of the same customer and amount that no other invoice's case has claimed.
    own_row = session.scalar(select(Event.id).where(Event.event_id == event.event_id))
    stmt = select(Event.id).where(
        Event.account == event.account,
        Event.type == "charge.failed",
        Event.created.between(event.created - 600, event.created),
    )
    if own_row is not None:
        stmt = stmt.where(Event.id < own_row)
    ids = session.scalars(stmt.order_by(Event.created.desc(), Event.id.desc()).limit(50)).all()
    for row_id in ids:  # payloads one at a time: the match is nearly always the first
        row = session.execute(select(*_COLUMNS).where(Event.id == row_id)).first()
        ch = event_object(StoredEvent(*row)) if row is not None else None
        ch = ch or {}
        if pi_id and ch.get("payment_intent") == pi_id:
            return ch
        if ch.get("customer") != inv.get("customer") or ch.get("amount") not in (
            inv.get("amount_remaining"),
            inv.get("amount_due"),
        ):
            continue
        claimed = session.scalar(
            select(RecoveryCase.invoice_id).where(RecoveryCase.charge_id == ch.get("id"))
        )
        if claimed in (None, inv.get("id")):
            return ch
    return None


def decline_of(session: Session, inv: dict[str, Any], event: EventContext) -> dict[str, Any]:
    """The decline fields for this invoice's latest failure, kept from the events themselves."""
    pi_id = invoice_payment_intent_id(inv)
    pi_event = latest_event(session, pi_id, ("payment_intent.payment_failed",))
    pi = event_object(pi_event) or (get_object(session, pi_id) if pi_id else None)
    charge_id = invoice_charge_id(inv) or (pi or {}).get("latest_charge")
    charge_event = latest_event(session, charge_id, ("charge.failed",))
    charge = event_object(charge_event)
    charge = charge or (get_object(session, charge_id) if isinstance(charge_id, str) else None)
    if charge is None and event.obj.get("object") == "charge":
        charge = event.obj  # a charge.failed linked to this invoice by the handler below
    if pi is None and event.obj.get("object") == "payment_intent":
        pi = event.obj
        charge_id = pi.get("latest_charge")
        if charge is None and isinstance(charge_id, str):
            charge = event_object(latest_event(session, charge_id, ("charge.failed",)))
    if charge is None:
        charge = _nearby_failed_charge(session, inv, pi_id, event)
        found_pi = (charge or {}).get("payment_intent")
        if pi is None and isinstance(found_pi, str):
            pi_event = latest_event(session, found_pi, ("payment_intent.payment_failed",))
            pi = event_object(pi_event) or get_object(session, found_pi)
    seen = [e.created for e in (pi_event, charge_event) if e is not None]
    if isinstance((charge or {}).get("created"), int):
        seen.append(int(charge["created"]))  # type: ignore[index]
    facts = facts_from_stripe(charge, pi)
    if event.type == "invoice.payment_action_required" and facts.payment_intent_status is None:
        facts = facts.__class__(**{**facts.__dict__, "payment_intent_status": "requires_action"})
    return {
        **facts.__dict__,
        "charge_id": (charge or {}).get("id"),
        "payment_intent_id": pi_id or (pi or {}).get("id") or (charge or {}).get("payment_intent"),
        "failed_at": min(seen) if seen else event.created,
    }


def unlinked_case(session: Session, obj: dict[str, Any], created: int) -> RecoveryCase | None:
    # The invoice event came first and found no charge yet: the same customer's open case of the
    # same amount, failed within minutes, with no charge linked, is the one this payment belongs to.
    customer = obj.get("customer")
    if not isinstance(customer, str):
        return None
    return session.scalar(
        select(RecoveryCase)
        .where(
            RecoveryCase.customer_id == customer,
            RecoveryCase.status == "open",
            RecoveryCase.charge_id.is_(None),
            RecoveryCase.amount_remaining == obj.get("amount"),
            RecoveryCase.first_failed_at.between(created - 600, created + 600),
        )
        .order_by(RecoveryCase.first_failed_at.desc())
        .limit(1)
    )
