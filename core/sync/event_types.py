"""Which Stripe event types the desk applies to its snapshots, and what object each must carry.

An event is stored whatever its type (the events table is the audit record), but its object
only becomes the latest snapshot when the type belongs to a family the desk knows and the
object is of that family's kind: `invoice.paid` may set an invoice, never a charge, and an
unknown `foo.bar` sets nothing. Longer prefixes win (`charge.dispute.` before `charge.`).
"""

from __future__ import annotations

# event type prefix → the object kinds an event of that family carries
FAMILIES: dict[str, tuple[str, ...]] = {
    "account.": ("account",),
    "application_fee.": ("application_fee", "fee_refund"),
    "balance_transaction.": ("balance_transaction",),
    "charge.dispute.": ("dispute",),
    "charge.refund.": ("refund",),
    "charge.": ("charge",),
    "checkout.session.": ("checkout.session",),
    "coupon.": ("coupon",),
    "credit_note.": ("credit_note",),
    "customer.discount.": ("discount",),
    "customer.source.": ("card", "bank_account", "source"),
    "customer.subscription.": ("subscription",),
    "customer.tax_id.": ("tax_id",),
    "customer.": ("customer",),
    "invoice_payment.": ("invoice_payment",),
    "invoice.": ("invoice",),
    "invoiceitem.": ("invoiceitem",),
    "mandate.": ("mandate",),
    "payment_intent.": ("payment_intent",),
    "payment_method.": ("payment_method",),
    "payout.": ("payout",),
    "plan.": ("plan",),
    "price.": ("price",),
    "product.": ("product",),
    "promotion_code.": ("promotion_code",),
    "quote.": ("quote",),
    "radar.early_fraud_warning.": ("radar.early_fraud_warning",),
    "refund.": ("refund",),
    "review.": ("review",),
    "setup_intent.": ("setup_intent",),
    "subscription_schedule.": ("subscription_schedule",),
    "tax_rate.": ("tax_rate",),
    "topup.": ("topup",),
    "transfer.": ("transfer",),
}
_BY_LENGTH = sorted(FAMILIES, key=len, reverse=True)


def object_kinds(event_type: str) -> tuple[str, ...]:
    """The object kinds an event of this type may set; () for a type the desk does not know."""
    for prefix in _BY_LENGTH:
        if event_type.startswith(prefix):
            return FAMILIES[prefix]
    return ()


def is_known(event_type: str) -> bool:
    """Whether the desk applies events of this type to its snapshots."""
    return bool(object_kinds(event_type))


def sets_snapshot(event_type: str, object_kind: object) -> bool:
    """Whether an event of `event_type` carrying an object of `object_kind` may set its snapshot."""
    return isinstance(object_kind, str) and object_kind in object_kinds(event_type)
