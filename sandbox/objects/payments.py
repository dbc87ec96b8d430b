"""Payment intents, charges, balance transactions, refunds, disputes, payouts and files."""

from __future__ import annotations

from typing import Any

from sandbox.objects.billing import ADDRESS_NULL, sublist
from sandbox.store import Account, Obj

EVIDENCE_TEXT = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "uncategorized_text",
)
EVIDENCE_FILES = (
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
)


def payment_intent(
    a: Account, *, created: int, amount: int, customer_id: str | None, description: str
) -> Obj:
    """A payment intent awaiting its first attempt."""
    pid = a.new_id("pi_")
    return {
        "id": pid,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{pid}_secret_{a.new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": "usd",
        "customer": customer_id,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": "off_session",
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def charge(
    a: Account,
    *,
    created: int,
    amount: int,
    customer_id: str | None,
    pi_id: str | None,
    card: dict[str, Any],
    outcome: dict[str, Any],
    failure: tuple[str, str] | None,
    description: str,
) -> Obj:
    """A card charge; `failure` is (failure_code, failure_message) for a declined one."""
    cid = a.new_id("ch_")
    ok = failure is None
    return {
        "id": cid,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if ok else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": {
            "address": {**ADDRESS_NULL, "postal_code": card["zip"], "country": "US"},
            "email": None,
            "name": card["name"],
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "LEDGERDESK DEMO",
        "captured": ok,
        "created": created,
        "currency": "usd",
        "customer": customer_id,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": failure[0] if failure else None,
        "failure_message": failure[1] if failure else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": ok,
        "payment_intent": pi_id,
        "payment_method": card["pm"],
        "payment_method_details": {
            "type": "card",
            "card": {
                "amount_authorized": amount if ok else None,
                "authorization_code": None,
                "brand": card["brand"],
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": "pass",
                    "cvc_check": "fail" if failure and failure[0] == "incorrect_cvc" else "pass",
                },
                "country": "US",
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "extended_authorization": {"status": "disabled"},
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": card["last4"],
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": card["brand"],
                "network_token": {"used": False},
                "network_transaction_id": None,
                "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": None,
                "wallet": None,
            },
        },
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/test_{cid[3:]}",
        "refunded": False,
        "refunds": sublist(f"/v1/charges/{cid}/refunds", []),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if ok else "failed",
        "transfer_data": None,
        "transfer_group": None,
    }


def balance_transaction(
    a: Account,
    *,
    created: int,
    amount: int,
    fee: int,
    type_: str,
    category: str,
    source: str | None,
    description: str | None,
    available_on: int | None = None,
    status: str = "available",
) -> Obj:
    """A balance transaction; `fee` is Stripe's processing fee in minor units."""
    fee_details = (
        [
            {
                "amount": fee,
                "application": None,
                "currency": "usd",
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        if fee
        else []
    )
    return {
        "id": a.new_id("txn_"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on if available_on is not None else created + 2 * 86400,
        "balance_type": "payments",
        "created": created,
        "currency": "usd",
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": category,
        "source": source,
        "status": status,
        "type": type_,
    }


def refund(
    a: Account, *, created: int, ch: Obj, amount: int, reason: str | None, metadata: dict[str, str]
) -> Obj:
    """A card refund."""
    return {
        "id": a.new_id("re_"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": ch["id"],
        "created": created,
        "currency": "usd",
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": metadata,
        "payment_intent": ch["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def dispute(
    a: Account,
    *,
    created: int,
    ch: Obj,
    reason: str,
    status: str,
    due_by: int,
    network_reason_code: str | None,
    case_type: str,
) -> Obj:
    """A dispute on a charge."""
    evidence: dict[str, Any] = {k: None for k in EVIDENCE_TEXT + EVIDENCE_FILES}
    evidence["appeal"] = None
    evidence["enhanced_evidence"] = {}
    return {
        "id": a.new_id("dp_"),
        "object": "dispute",
        "amount": ch["amount"],
        "balance_transactions": [],
        "charge": ch["id"],
        "created": created,
        "currency": "usd",
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": due_by,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "submission_method": "not_submitted",
        },
        "intended_submission_method": None,
        "is_charge_refundable": case_type == "inquiry",
        "livemode": False,
        "metadata": {},
        "network_reason_code": network_reason_code,
        "payment_intent": ch["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": ch["payment_method_details"]["card"]["brand"],
                "case_type": case_type,
                "network": ch["payment_method_details"]["card"]["network"],
                "network_reason_code": network_reason_code,
            },
            "type": "card",
        },
        "reason": reason,
        "status": status,
    }


def early_fraud_warning(a: Account, *, created: int, ch: Obj, fraud_type: str) -> Obj:
    """A Radar early fraud warning."""
    return {
        "id": a.new_id("issfr_"),
        "object": "radar.early_fraud_warning",
        "actionable": True,
        "charge": ch["id"],
        "created": created,
        "fraud_type": fraud_type,
        "livemode": False,
        "payment_intent": ch["payment_intent"],
    }


def payout(
    a: Account, *, created: int, amount: int, arrival: int, automatic: bool, status: str
) -> Obj:
    """A bank payout."""
    pid = a.new_id("po_")
    return {
        "id": pid,
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": arrival,
        "automatic": automatic,
        "balance_transaction": None,
        "created": created,
        "currency": "usd",
        "description": "STRIPE PAYOUT",
        "destination": "ba_sandboxbank0001",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "payout_method": None,
        "reconciliation_status": "completed" if automatic else "not_applicable",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "trace_id": {
            "status": "supported" if status == "paid" else "pending",
            "value": "TRC" + pid[3:15].upper() if status == "paid" else None,
        },
        "type": "bank_account",
    }


def file_obj(
    a: Account, *, created: int, purpose: str, filename: str, size: int, ftype: str, base: str
) -> Obj:
    """An uploaded file."""
    fid = a.new_id("file_")
    return {
        "id": fid,
        "object": "file",
        "created": created,
        "expires_at": created + 365 * 86400,
        "filename": filename,
        "links": sublist(f"/v1/file_links?file={fid}", []),
        "purpose": purpose,
        "size": size,
        "title": None,
        "type": ftype,
        "url": f"{base}/v1/files/{fid}/contents",
    }
