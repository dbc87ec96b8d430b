"""Builders for Stripe objects in the current API shape (fields as in Stripe's fixtures)."""

from sandbox.objects.billing import (
    ADDRESS_NULL,
    customer,
    customer_balance_transaction,
    plan_of,
    price,
    product,
    sublist,
    subscription,
)
from sandbox.objects.invoices import invoice, invoice_payment
from sandbox.objects.payment_methods import payment_method
from sandbox.objects.payments import (
    EVIDENCE_FILES,
    EVIDENCE_TEXT,
    balance_transaction,
    charge,
    dispute,
    early_fraud_warning,
    file_obj,
    payment_intent,
    payout,
    refund,
)

__all__ = [
    "ADDRESS_NULL",
    "EVIDENCE_FILES",
    "EVIDENCE_TEXT",
    "balance_transaction",
    "charge",
    "customer",
    "customer_balance_transaction",
    "dispute",
    "early_fraud_warning",
    "file_obj",
    "invoice",
    "invoice_payment",
    "payment_intent",
    "payment_method",
    "payout",
    "plan_of",
    "price",
    "product",
    "refund",
    "sublist",
    "subscription",
]
