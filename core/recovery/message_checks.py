"""Recovery's re-checks for the outbox: a dunning e-mail goes out only while its case is open,
its invoice is still unpaid and its subscription not canceled; a card-update e-mail only while
the subscription is active. Read from the case and the Stripe objects the sync stored, then, when
the outbox passes a reader, from Stripe itself (a payment the sync has not seen yet counts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.adapters.outbox import Fetch, still_true
from core.models.governance import OutboxMessage
from core.recovery.cases import case_for_invoice
from core.recovery.predunning import ACTIVE
from core.sync.invoice_shape import invoice_is_paid, invoice_subscription_id
from core.sync.snapshots import get_object

SETTLED = ("paid", "void", "uncollectible")
ENDED = ("canceled", "incomplete_expired")


def _settled(invoice_id: str, inv: dict[str, Any], fresh: str = "") -> str | None:
    status = inv.get("status")
    if status in SETTLED or (inv and invoice_is_paid(inv)):
        return f"Invoice {invoice_id} is '{status}'{fresh} now, so the message is no longer needed."
    return None


def _ended(sub_id: str, sub: dict[str, Any] | None, fresh: str = "") -> str | None:
    if sub is not None and sub.get("status") in ENDED:
        return f"Subscription {sub_id} is '{sub.get('status')}'{fresh} now."
    return None


@still_true("invoice")
def invoice_still_unpaid(
    session: Session, msg: OutboxMessage, invoice_id: str, fetch: Fetch | None = None
) -> str | None:
    """None while the case is open, the invoice unpaid and its subscription not canceled."""
    case = case_for_invoice(session, invoice_id)
    if case is not None and case.status != "open":
        why = (case.closed_reason or "").replace("_", " ")
        return f"The recovery case of invoice {invoice_id} is {case.status} ({why})."
    inv = get_object(session, invoice_id) or {}
    reason = _settled(invoice_id, inv)
    if reason:
        return reason
    sub_id = (case.subscription_id if case is not None else None) or (
        invoice_subscription_id(inv) if inv else None
    )
    reason = _ended(sub_id, get_object(session, sub_id)) if sub_id else None
    if reason or fetch is None:
        return reason
    fresh = fetch("invoices", invoice_id)
    reason = _settled(invoice_id, fresh, " in Stripe")
    sub_id = sub_id or invoice_subscription_id(fresh)
    if reason or not sub_id:
        return reason
    return _ended(sub_id, fetch("subscriptions", sub_id), " in Stripe")


@still_true("subscription")
def subscription_still_active(
    session: Session, msg: OutboxMessage, sub_id: str, fetch: Fetch | None = None
) -> str | None:
    """None while the subscription the card-update message is about is still active."""
    reason = _not_active(sub_id, get_object(session, sub_id))
    if reason or fetch is None:
        return reason
    return _not_active(sub_id, fetch("subscriptions", sub_id), " in Stripe")


def _not_active(sub_id: str, sub: dict[str, Any] | None, where: str = "") -> str | None:
    if sub is not None and sub.get("status") not in ACTIVE:
        return (
            f"Subscription {sub_id} is '{sub.get('status')}'{where} now; no card update is needed."
        )
    return None
