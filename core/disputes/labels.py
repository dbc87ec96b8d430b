"""The finance team's words for Stripe's dispute reasons and statuses."""

from __future__ import annotations

REASON_LABELS = {
    "bank_cannot_process": "Bank cannot process",
    "check_returned": "Check returned",
    "credit_not_processed": "Credit not processed",
    "customer_initiated": "Customer initiated",
    "debit_not_authorized": "Debit not authorized",
    "duplicate": "Duplicate charge",
    "fraudulent": "Fraudulent",
    "general": "General",
    "incorrect_account_details": "Incorrect account details",
    "insufficient_funds": "Insufficient funds",
    "noncompliant": "Noncompliant",
    "product_not_received": "Product not received",
    "product_unacceptable": "Product unacceptable",
    "subscription_canceled": "Subscription canceled",
    "unrecognized": "Unrecognized charge",
}

STATUS_LABELS = {
    "warning_needs_response": "Inquiry — needs response",
    "warning_under_review": "Inquiry — under review",
    "warning_closed": "Inquiry closed",
    "needs_response": "Needs response",
    "under_review": "Under review",
    "appeal_needs_response": "Appeal — needs response",
    "appeal_under_review": "Appeal — under review",
    "won": "Won",
    "lost": "Lost",
    "prevented": "Prevented",
}


def reason_label(reason: str | None) -> str:
    """'product_not_received' → 'Product not received' (unknown codes read as words)."""
    if not reason:
        return "—"
    return REASON_LABELS.get(reason, reason.replace("_", " ").capitalize())


def status_label(status: str | None) -> str:
    """'needs_response' → 'Needs response'."""
    if not status:
        return "—"
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())
