"""Read invoices in both API shapes: before 2025-03-31 and the current one.

Before 2025-03-31 an invoice carried `charge`, `payment_intent` and `subscription` directly.
Since then the payment sits under `payments.data[].payment` and the subscription under
`parent.subscription_details`. Stored history mixes both, so every reader goes through here.
"""

from __future__ import annotations

from typing import Any


def _id_of(value: Any) -> str | None:
    """An id from a field that may be an id string or an expanded object."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def _payments(inv: dict[str, Any]) -> list[dict[str, Any]]:
    payments = inv.get("payments")
    if isinstance(payments, dict):
        data = payments.get("data")
        if isinstance(data, list):
            return [p for p in data if isinstance(p, dict)]
    return []


def _payment_field(inv: dict[str, Any], field: str) -> str | None:
    # The default payment is the one Stripe marks `is_default`, else the newest listed.
    payments = _payments(inv)
    ordered = sorted(payments, key=lambda p: not p.get("is_default", False))
    for p in ordered:
        payment = p.get("payment")
        if isinstance(payment, dict):
            found = _id_of(payment.get(field))
            if found:
                return found
    return None


def invoice_payment_intent_id(inv: dict[str, Any]) -> str | None:
    """The invoice's PaymentIntent id, from `payment_intent` (old) or `payments` (current)."""
    return _id_of(inv.get("payment_intent")) or _payment_field(inv, "payment_intent")


def invoice_charge_id(inv: dict[str, Any]) -> str | None:
    """The invoice's charge id, from `charge` (old) or `payments[].payment.charge` (current)."""
    return _id_of(inv.get("charge")) or _payment_field(inv, "charge")


def invoice_subscription_id(inv: dict[str, Any]) -> str | None:
    """The invoice's subscription id, from `subscription` (old) or `parent.subscription_details`."""
    old = _id_of(inv.get("subscription"))
    if old:
        return old
    parent = inv.get("parent")
    if isinstance(parent, dict):
        details = parent.get("subscription_details")
        if isinstance(details, dict):
            return _id_of(details.get("subscription"))
    return None


def invoice_is_paid(inv: dict[str, Any]) -> bool:
    """Whether the invoice is paid: `status == "paid"` in both shapes (`paid` was removed)."""
    return inv.get("status") == "paid" or inv.get("paid") is True
