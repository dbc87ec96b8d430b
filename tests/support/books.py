"""Factories for the books tests: balance transactions, payouts, invoices and charges."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)
DAY = 86_400
T0 = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def bt(
    category: str,
    amount: int,
    fee: int = 0,
    *,
    created: int = T0 + 3600,
    currency: str = "usd",
    source: str | None = None,
    exchange_rate: float | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """A balance transaction in Stripe's shape."""
    n = next(_ids)
    return {
        "id": id or f"txn_t{n}",
        "object": "balance_transaction",
        "amount": amount,
        "fee": fee,
        "net": amount - fee,
        "fee_details": [
            {
                "amount": fee,
                "currency": currency,
                "type": "stripe_fee",
                "description": "Stripe processing fees",
            }
        ]
        if fee
        else [],
        "currency": currency,
        "exchange_rate": exchange_rate,
        "reporting_category": category,
        "type": category,
        "created": created,
        "available_on": created + 2 * DAY,
        "source": source or f"ch_t{n}",
        "status": "available",
        "description": None,
    }


def payout(
    amount: int,
    *,
    id: str | None = None,
    arrival: int = T0 + 2 * DAY,
    status: str = "paid",
    automatic: bool = True,
    reconciliation_status: str = "completed",
    trace: str | None = None,
    currency: str = "usd",
) -> dict[str, Any]:
    """A payout in Stripe's shape."""
    n = next(_ids)
    return {
        "id": id or f"po_t{n}",
        "object": "payout",
        "amount": amount,
        "currency": currency,
        "arrival_date": arrival,
        "created": arrival - DAY,
        "automatic": automatic,
        "status": status,
        "reconciliation_status": reconciliation_status,
        "balance_transaction": f"txn_po{n}",
        "failure_balance_transaction": None,
        "trace_id": {"status": "supported", "value": trace} if trace else None,
        "method": "standard",
        "type": "bank_account",
    }


def invoice_with_tax(charge_id: str, tax: int, *, jurisdiction: str = "DE",
                     created: int = T0 + 3600, total: int = 11900) -> dict[str, Any]:  # fmt: skip
    """A paid invoice in the current shape carrying Stripe Tax amounts."""
    n = next(_ids)
    return {
        "id": f"in_t{n}",
        "object": "invoice",
        "status": "paid",
        "currency": "eur",
        "created": created,
        "total": total,
        "customer_address": {"country": jurisdiction, "state": None},
        "payments": {"data": [{"payment": {"type": "charge", "charge": charge_id}}]},
        "total_taxes": [
            {
                "amount": tax,
                "tax_behavior": "exclusive",
                "taxable_amount": total - tax,
                "taxability_reason": "standard_rated",
                "type": "tax_rate_details",
                "tax_rate_details": {
                    "tax_rate": {
                        "id": "txr_1",
                        "jurisdiction": jurisdiction,
                        "country": jurisdiction,
                        "display_name": "VAT",
                        "percentage": 19,
                    }
                },
            }
        ],
        "status_transitions": {"paid_at": created},
    }
