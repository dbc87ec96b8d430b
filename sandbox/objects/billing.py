"""Customers, catalog, subscriptions and invoices."""

from __future__ import annotations

from typing import Any

from sandbox.store import Account, Obj

ADDRESS_NULL = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def sublist(url: str, data: list[Any]) -> dict[str, Any]:
    """An embedded Stripe list object."""
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data), "url": url}


def customer(a: Account, *, created: int, name: str, email: str, metadata: dict[str, str]) -> Obj:
    """A customer."""
    cid = a.new_id("cus_", 14)
    return {
        "id": cid,
        "object": "customer",
        "address": {**ADDRESS_NULL, "country": "US"},
        "balance": 0,
        "created": created,
        "currency": "usd",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": email,
        "invoice_prefix": cid[4:12].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": ["en-US"],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product(a: Account, *, created: int, name: str, description: str) -> Obj:
    """A product."""
    return {
        "id": a.new_id("prod_", 14),
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    a: Account,
    *,
    created: int,
    product_id: str,
    unit_amount: int,
    nickname: str,
    interval: str = "month",
) -> Obj:
    """A recurring price."""
    return {
        "id": a.new_id("price_"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": nickname.lower().replace(" ", "_"),
        "metadata": {},
        "nickname": nickname,
        "product": product_id,
        "recurring": {
            "interval": interval,
            "interval_count": 1,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        "tax_behavior": "exclusive",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def plan_of(p: Obj) -> Obj:
    """The legacy `plan` view of a price, still embedded in subscription items."""
    return {
        "id": p["id"],
        "object": "plan",
        "active": True,
        "amount": p["unit_amount"],
        "amount_decimal": p["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": p["created"],
        "currency": "usd",
        "interval": p["recurring"]["interval"],
        "interval_count": 1,
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": p["nickname"],
        "product": p["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def subscription(
    a: Account,
    *,
    created: int,
    customer_id: str,
    price_obj: Obj,
    quantity: int,
    status: str,
    period_start: int,
    period_end: int,
    trial_start: int | None,
    trial_end: int | None,
) -> Obj:
    """A subscription with one item."""
    sid = a.new_id("sub_")
    item: dict[str, Any] = {
        "id": a.new_id("si_", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": period_end,
        "current_period_start": period_start,
        "discounts": [],
        "metadata": {},
        "plan": plan_of(price_obj),
        "price": price_obj,
        "quantity": quantity,
        "subscription": sid,
        "tax_rates": [],
    }
    return {
        "id": sid,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "usd",
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": sublist(f"/v1/subscription_items?subscription={sid}", [item]),
        "latest_invoice": None,
        "livemode": False,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": trial_start,
    }


def customer_balance_transaction(
    a: Account,
    *,
    created: int,
    cust: Obj,
    amount: int,
    description: str | None,
    metadata: dict[str, str],
) -> Obj:
    """An adjustment to a customer's credit balance (negative amount = credit)."""
    return {
        "id": a.new_id("cbtxn_"),
        "object": "customer_balance_transaction",
        "amount": amount,
        "checkout_session": None,
        "created": created,
        "credit_note": None,
        "currency": "usd",
        "customer": cust["id"],
        "description": description,
        "ending_balance": cust["balance"] + amount,
        "invoice": None,
        "livemode": False,
        "metadata": metadata,
        "type": "adjustment",
    }
