"""Invoices (current shape: `parent`, `total_taxes`, payments via `invoice_payment`)."""

from __future__ import annotations

from sandbox.objects.billing import sublist
from sandbox.store import Account, Obj


def invoice(
    a: Account,
    *,
    created: int,
    cust: Obj,
    sub: Obj | None,
    price_obj: Obj,
    quantity: int,
    period_start: int,
    period_end: int,
    tax: int,
    billing_reason: str = "subscription_cycle",
) -> Obj:
    """An open (finalized, unpaid) invoice for one subscription period."""
    iid = a.new_id("in_")
    subtotal = price_obj["unit_amount"] * quantity
    total = subtotal + tax
    taxes = []
    if tax:
        taxes = [
            {
                "amount": tax,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": "txr_sandbox"},
                "taxability_reason": "standard_rated",
                "taxable_amount": subtotal,
                "type": "tax_rate_details",
            }
        ]
    line = {
        "id": a.new_id("il_"),
        "object": "line_item",
        "amount": subtotal,
        "currency": "usd",
        "description": f"{quantity} × {price_obj['nickname']}",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": iid,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "type": "subscription_item_details",
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"] if sub else None,
                "subscription_item": sub["items"]["data"][0]["id"] if sub else None,
            },
        },
        "period": {"end": period_end, "start": period_start},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "type": "price_details",
            "unit_amount_decimal": price_obj["unit_amount_decimal"],
        },
        "quantity": quantity,
        "subscription": sub["id"] if sub else None,
        "subtotal": subtotal,
        "taxes": taxes,
    }
    number = f"{cust['invoice_prefix']}-{a.seq % 100000:05d}"
    return {
        "id": iid,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Ledgerdesk Demo Co",
        "account_tax_ids": None,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": total,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "confirmation_secret": None,
        "created": created,
        "currency": "usd",
        "custom_fields": None,
        "customer": cust["id"],
        "customer_address": cust["address"],
        "customer_email": cust["email"],
        "customer_name": cust["name"],
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": created,
        "ending_balance": 0,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_sandbox/test_{iid[3:]}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/acct_sandbox/test_{iid[3:]}/pdf",
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": sublist(f"/v1/invoices/{iid}/lines", [line]),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": created + 3600,
        "number": number,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "type": "subscription_details",
            "subscription_details": {"metadata": {}, "subscription": sub["id"]},
        }
        if sub
        else None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": {
            "amount_tax_display": None,
            "pdf": {"page_size": "auto"},
            "template": None,
            "template_version": None,
        },
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "open",
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": subtotal,
        "total_pretax_credit_amounts": [],
        "total_taxes": taxes,
        "webhooks_delivered_at": created,
    }


def invoice_payment(a: Account, *, inv: Obj, pi_id: str, created: int) -> Obj:
    """The link between an invoice and its payment intent (`invoice.payments`)."""
    return {
        "id": a.new_id("inpay_"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": inv["amount_due"],
        "created": created,
        "currency": "usd",
        "invoice": inv["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"type": "payment_intent", "payment_intent": pi_id},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }
