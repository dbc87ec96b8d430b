"""Factories for recovery tests: Stripe-shaped failure / payment events in both invoice shapes."""

from __future__ import annotations

import itertools
from typing import Any

_seq = itertools.count(1)
CURRENT = "2026-10-28.endive"
LEGACY = "2024-06-20"


def event(
    etype: str,
    obj: dict[str, Any],
    created: int,
    *,
    event_id: str | None = None,
    api_version: str = CURRENT,
) -> dict[str, Any]:
    """A Stripe event envelope."""
    return {
        "id": event_id or f"evt_test{next(_seq):08d}",
        "object": "event",
        "type": etype,
        "created": created,
        "api_version": api_version,
        "livemode": False,
        "data": {"object": obj},
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
    }


def invoice(
    inv_id: str,
    *,
    customer: str = "cus_A1",
    amount: int = 4900,
    attempt: int = 1,
    status: str = "open",
    pi: str | None = "pi_1",
    sub: str | None = "sub_1",
    legacy: bool = False,
    next_attempt: int | None = 1_790_000_000,
    email: str = "ana@acme.io",
    name: str = "Ana Example",
) -> dict[str, Any]:
    """An invoice in the current shape (payments, parent) or the pre-2025 one."""
    inv: dict[str, Any] = {
        "id": inv_id,
        "object": "invoice",
        "customer": customer,
        "customer_email": email,
        "customer_name": name,
        "currency": "usd",
        "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else amount,
        "attempt_count": attempt,
        "status": status,
        "next_payment_attempt": None if status == "paid" else next_attempt,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{inv_id}",
        "number": "INV-0001",
    }
    if legacy:
        inv.update(
            payment_intent=pi,
            charge=f"ch_{inv_id}_{attempt}",
            subscription=sub,
            paid=status == "paid",
        )
    else:
        inv["parent"] = {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub},
        }
        inv["payments"] = {
            "object": "list",
            "data": [
                {
                    "id": f"inpay_{inv_id}",
                    "object": "invoice_payment",
                    "is_default": True,
                    "payment": {"type": "payment_intent", "payment_intent": pi},
                }
            ],
        }
    return inv


def failed_charge(
    ch_id: str,
    *,
    pi: str = "pi_1",
    customer: str = "cus_A1",
    amount: int = 4900,
    decline: str = "insufficient_funds",
    advice: str | None = None,
    invoice_id: str | None = None,
) -> dict[str, Any]:
    """A failed charge with its outcome."""
    ch: dict[str, Any] = {
        "id": ch_id,
        "object": "charge",
        "amount": amount,
        "currency": "usd",
        "customer": customer,
        "payment_intent": pi,
        "status": "failed",
        "paid": False,
        "failure_code": "card_declined",
        "failure_message": "Your card was declined.",
        "outcome": {
            "type": "issuer_declined",
            "network_status": "declined_by_network",
            "reason": decline,
            "risk_level": "normal",
            "advice_code": advice,
            "seller_message": "The bank declined the payment.",
        },
        "payment_method_details": {
            "type": "card",
            "card": {
                "brand": "visa",
                "last4": "4242",
                "exp_month": 1,
                "exp_year": 2030,
            },
        },
    }
    if invoice_id:
        ch["invoice"] = invoice_id
    return ch


def failed_pi(
    pi_id: str,
    *,
    decline: str = "insufficient_funds",
    status: str = "requires_payment_method",
    charge: str = "ch_1",
) -> dict[str, Any]:
    """A payment intent after a failed attempt."""
    return {
        "id": pi_id,
        "object": "payment_intent",
        "status": status,
        "latest_charge": charge,
        "amount": 4900,
        "currency": "usd",
        "customer": "cus_A1",
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": decline,
            "message": "Your card was declined.",
        },
    }


def failure_backlog(n: int, t0: int = 1_780_000_000) -> list[dict[str, Any]]:
    """A realistic backlog, oldest first: per invoice a failed payment, a second failure for a
    third of them, payment for half, and events no handler wants; one invoice's events are
    spread over many batches."""
    out = []
    for i in range(n):
        inv, cus = f"in_so{i:05d}", f"cus_so{i:05d}"
        shape: dict[str, Any] = {
            "customer": cus,
            "pi": f"pi_so{i:05d}",
            "sub": f"sub_so{i:05d}",
            "email": f"c{i}@example.com",
        }
        out.append(event("invoice.payment_failed", invoice(inv, **shape), t0 + i))
        out.append(event("customer.updated", {"id": cus, "object": "customer"}, t0 + i))
        out.append(event("payout.paid", {"id": f"po_so{i:05d}", "object": "payout"}, t0 + i))
        if i % 3 == 0:
            again = invoice(inv, attempt=2, **shape)
            out.append(event("invoice.payment_failed", again, t0 + 900 + i))
        if i % 2 == 0:
            out.append(event("invoice.paid", invoice(inv, status="paid", **shape), t0 + 1800 + i))
    return sorted(out, key=lambda e: e["created"])
