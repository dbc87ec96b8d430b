"""Card payment methods (the customer's saved cards)."""

from __future__ import annotations

from typing import Any

from sandbox.objects.billing import ADDRESS_NULL
from sandbox.store import Obj


def payment_method(card: dict[str, Any], *, created: int, customer_id: str | None) -> Obj:
    """A card PaymentMethod; `card` is the generator's card record (its `pm` is the id)."""
    return {
        "id": card["pm"],
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {**ADDRESS_NULL, "postal_code": card["zip"], "country": "US"},
            "email": None,
            "name": card["name"],
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": card["brand"],
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": "pass",
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": card["brand"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "generated_from": None,
            "last4": card["last4"],
            "networks": {"available": [card["brand"]], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": customer_id,
        "livemode": False,
        "metadata": {},
        "radar_options": {},
        "type": "card",
    }
