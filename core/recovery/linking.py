"""Which invoice a failed charge or payment intent belongs to, and its decline fields.

Only Stripe's own links are used, never amounts and times: pre-2025 objects name their invoice
(`charge.invoice`, `invoice.charge`, `invoice.payment_intent`); a current-shape invoice names
its payment intent through its payments (`invoice_payment` objects, listed by invoice), which
the sync fetches when an event needs them. Decline fields are read from the stored events
themselves (Stripe clears `last_payment_error` on the next update of the payment intent).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.errors import MissingObject
from core.models.performance import data_customer, data_invoice
from core.models.recovery import RecoveryCase
from core.models.sync import Event, StripeObject
from core.recovery.classification import facts_from_stripe
from core.sync.invoice_shape import invoice_charge_id, invoice_payment_intent_id
from core.sync.processing import EventContext
from core.sync.snapshots import get_object, payments_request


class StoredEvent(NamedTuple):
    """The columns of a stored event the recovery code reads (no ORM object per lookup)."""

    type: str
    created: int
    event_id: str
    payload: dict[str, Any]


_COLUMNS = (Event.type, Event.created, Event.event_id, Event.payload)
NOT_LOOKED_UP: Any = object()  # "not read yet" (None means "read, and there is none")


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


def latest_events(
    session: Session, wanted: list[tuple[str | None, tuple[str, ...]]]
) -> list[StoredEvent | None]:
    """`latest_event` for several (object id, types) pairs in one query, in the order asked."""
    asked = [(oid, types) for oid, types in wanted if oid]
    if not asked:
        return [None] * len(wanted)
    rows = session.execute(
        select(*_COLUMNS, Event.object_id)
        .where(or_(*(and_(Event.object_id == oid, Event.type.in_(t)) for oid, t in asked)))
        .order_by(Event.created.desc(), Event.id.desc())
    ).all()
    found: list[StoredEvent | None] = []
    for oid, types in wanted:
        row = next((r for r in rows if oid and r[4] == oid and r[0] in types), None)
        found.append(StoredEvent(*row[:4]) if row is not None else None)
    return found


def latest_by_object(
    session: Session, object_ids: set[str], types: tuple[str, ...]
) -> dict[str, StoredEvent | None]:
    """`latest_event` for many objects (one query per 500): every asked-for id is a key, None
    when it has no such event."""
    found: dict[str, StoredEvent | None] = dict.fromkeys(object_ids)
    listed = sorted(object_ids)
    for i in range(0, len(listed), 500):
        rows = session.execute(
            select(*_COLUMNS, Event.object_id)
            .where(Event.object_id.in_(listed[i : i + 500]), Event.type.in_(types))
            .order_by(Event.created.desc(), Event.id.desc())
        )
        for row in rows:
            if found.get(row[4]) is None:
                found[row[4]] = StoredEvent(*row[:4])
    return found


def from_batch(batch: dict[str, Any], key: str, object_id: str | None) -> Any:
    """What a batch loader read under `key` for `object_id` (None: it has none), or
    NOT_LOOKED_UP when the loader did not ask for it (the caller reads it alone)."""
    loaded = batch.get(key)
    if object_id is None or not isinstance(loaded, dict) or object_id not in loaded:
        return NOT_LOOKED_UP
    return loaded[object_id]


def event_object(row: StoredEvent | None) -> dict[str, Any] | None:
    """The event's data.object."""
    if row is None:
        return None
    data = (row.payload or {}).get("data") or {}
    obj = data.get("object")
    return obj if isinstance(obj, dict) else None


# EventContext.batch key: {invoice id: its stored invoice_payment objects}, read once per batch.
INVOICE_PAYMENTS = "recovery.invoice_payments"
# EventContext.batch keys: {invoice id: its latest terminal event or None}, {payment intent id:
# its latest failure event or None} (see core/recovery/batch.py).
TERMINAL_EVENTS = "recovery.terminal_events"
PI_FAILURE_EVENTS = "recovery.pi_failure_events"


def names_its_payment(inv: dict[str, Any]) -> bool:
    """Whether the invoice itself says which payment intent is its own (no look-up needed)."""
    return bool(
        invoice_payment_intent_id(inv)
        or isinstance(inv.get("payments"), dict)
        or "payment_intent" in inv
    )


def load_invoice_payments(
    session: Session, invoice_ids: set[str]
) -> dict[str, list[dict[str, Any]]]:
    """The stored invoice_payment objects of these invoices (one query per 500 invoices); every
    asked-for invoice is a key, with an empty list when none is stored."""
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in invoice_ids}
    listed = sorted(invoice_ids)
    for i in range(0, len(listed), 500):
        for data in session.scalars(
            select(StripeObject.data).where(
                StripeObject.object_type == "invoice_payment",
                data_invoice(StripeObject.data).in_(listed[i : i + 500]),
            )
        ):
            found.setdefault(str(data.get("invoice")), []).append(dict(data))
    return found


def invoice_payment_intent(
    session: Session, inv: dict[str, Any], batch: dict[str, Any] | None = None
) -> str | None:
    """The invoice's payment intent, from Stripe's own link — never guessed.

    The pre-2025 shape names it (`invoice.payment_intent`), an invoice read with
    `expand[]=payments` lists it; the current event shape does not, so the link comes from the
    invoice's payments as Stripe lists them (`GET /v1/invoice_payments?invoice=`), stored by
    the sync (read once per batch when the batch loaded them, see INVOICE_PAYMENTS). Not stored
    yet: MissingObject, and the sync fetches them on its next poll.
    """
    if names_its_payment(inv):
        return invoice_payment_intent_id(inv)  # expanded payments, or the pre-2025 field
    inv_id = str(inv.get("id"))
    loaded = (batch or {}).get(INVOICE_PAYMENTS) or {}
    payments = (
        loaded[inv_id] if inv_id in loaded else load_invoice_payments(session, {inv_id})[inv_id]
    )
    if not payments:
        raise MissingObject(
            "invoice_payment",
            payments_request(inv_id),
            f"Invoice {inv_id} does not name its payment; its payments are fetched from Stripe "
            "on the next sync.",
        )
    return invoice_payment_intent_id({"payments": {"data": payments}})


def _latest_charge_of(session: Session, pi_id: str | None, customer: Any) -> str | None:
    """The newest stored charge of a payment intent (`charge.payment_intent`, Stripe's own link),
    looked up among the customer's charges (an indexed lookup)."""
    if not pi_id or not isinstance(customer, str):
        return None
    charges = [
        dict(d)
        for d in session.scalars(
            select(StripeObject.data).where(
                StripeObject.object_type == "charge",
                data_customer(StripeObject.data) == customer,
            )
        )
    ]
    own = [c for c in charges if c.get("payment_intent") == pi_id]
    newest = max(own, key=lambda c: (c.get("created") or 0, c.get("id") or ""), default=None)
    return str(newest["id"]) if newest else None


PI_FAILED = ("payment_intent.payment_failed",)


def decline_of(
    session: Session,
    inv: dict[str, Any],
    event: EventContext,
    pi_id: Any = NOT_LOOKED_UP,
    pi_event: Any = NOT_LOOKED_UP,
) -> dict[str, Any]:
    """The decline fields for this invoice's latest failure, kept from the events themselves.

    The payment intent comes from Stripe's link (see `invoice_payment_intent`; `pi_id` when
    the caller has it already), its charge
    from `latest_charge` (or the old `invoice.charge`; `pi_event` is its latest failure event
    when the caller read it already); the decline fields from their own
    failure events when stored (Stripe clears `last_payment_error` on the next update), else
    from their snapshots. A failure event that arrives later finds the case by its payment
    intent and completes it, so every order of arrival ends in the same case.
    """
    if pi_id is NOT_LOOKED_UP:
        pi_id = invoice_payment_intent(session, inv, event.batch)
    if pi_event is NOT_LOOKED_UP:
        pi_event = latest_event(session, pi_id, PI_FAILED)
    pi = event_object(pi_event)
    if pi is None and event.obj.get("object") == "payment_intent" and event.obj.get("id") == pi_id:
        pi = event.obj
    if pi is None and pi_id:
        pi = get_object(session, pi_id)
    charge_id = (
        invoice_charge_id(inv)
        or (pi or {}).get("latest_charge")
        or _latest_charge_of(session, pi_id, inv.get("customer"))
    )
    charge_event = latest_event(session, charge_id, ("charge.failed",))
    charge = event_object(charge_event)
    if charge is None and event.obj.get("object") == "charge" and event.obj.get("id") == charge_id:
        charge = event.obj
    if charge is None and isinstance(charge_id, str):
        charge = get_object(session, charge_id)
    seen = [e.created for e in (pi_event, charge_event) if e is not None]
    if isinstance((charge or {}).get("created"), int):
        seen.append(int(charge["created"]))  # type: ignore[index]
    facts = facts_from_stripe(charge, pi)
    if event.type == "invoice.payment_action_required" and facts.payment_intent_status is None:
        facts = facts.__class__(**{**facts.__dict__, "payment_intent_status": "requires_action"})
    return {
        **facts.__dict__,
        "charge_id": (charge or {}).get("id"),
        "payment_intent_id": pi_id or (charge or {}).get("payment_intent"),
        "failed_at": min(seen) if seen else event.created,
    }


def payment_intent_of(obj: dict[str, Any]) -> str | None:
    """The payment intent of a charge or payment intent object (None when it names none)."""
    pi_id = obj.get("id") if obj.get("object") == "payment_intent" else obj.get("payment_intent")
    return pi_id if isinstance(pi_id, str) else None


def invoice_of_payment(session: Session, obj: dict[str, Any]) -> str | None:
    """The invoice a failed charge or payment intent belongs to, from Stripe's links only: the
    pre-2025 `invoice` field, or the case its invoice opened with this payment intent. None
    when neither is known yet: the invoice's own event links them when it is processed."""
    legacy = obj.get("invoice")
    if isinstance(legacy, str):
        return legacy
    pi_id = payment_intent_of(obj)
    if pi_id is None:
        return None
    found = session.scalar(
        select(RecoveryCase.invoice_id).where(RecoveryCase.payment_intent_id == pi_id).limit(1)
    )
    return str(found) if found is not None else None
