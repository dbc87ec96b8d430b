"""Recovery's re-checks for the outbox: a dunning e-mail goes out only while its case is open,
its invoice is still unpaid and its subscription not canceled; a card-update e-mail only while
the subscription is active (read from the case and the Stripe objects the sync stored)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.adapters.outbox import still_true
from core.models.governance import OutboxMessage
from core.recovery.cases import case_for_invoice
from core.recovery.predunning import ACTIVE
from core.sync.invoice_shape import invoice_is_paid, invoice_subscription_id
from core.sync.snapshots import get_object

SETTLED = ("paid", "void", "uncollectible")
ENDED = ("canceled", "incomplete_expired")


@still_true("invoice")
def invoice_still_unpaid(session: Session, msg: OutboxMessage, invoice_id: str) -> str | None:
    """None while the case is open, the invoice unpaid and its subscription not canceled."""
    case = case_for_invoice(session, invoice_id)
    if case is not None and case.status != "open":
        why = (case.closed_reason or "").replace("_", " ")
        return f"The recovery case of invoice {invoice_id} is {case.status} ({why})."
    inv = get_object(session, invoice_id) or {}
    status = inv.get("status")
    if status in SETTLED or (inv and invoice_is_paid(inv)):
        return f"Invoice {invoice_id} is '{status}' now, so the message is no longer needed."
    sub_id = (case.subscription_id if case is not None else None) or (
        invoice_subscription_id(inv) if inv else None
    )
    sub = get_object(session, sub_id) if sub_id else None
    if sub is not None and sub.get("status") in ENDED:
        return f"Subscription {sub_id} is '{sub.get('status')}' now."
    return None


@still_true("subscription")
def subscription_still_active(session: Session, msg: OutboxMessage, sub_id: str) -> str | None:
    """None while the subscription the card-update message is about is still active."""
    sub = get_object(session, sub_id)
    if sub is not None and sub.get("status") not in ACTIVE:
        return f"Subscription {sub_id} is '{sub.get('status')}' now; no card update is needed."
    return None
