"""Which next step a failed payment needs: a pure, table-driven classification.

Inputs are plain facts read from the charge, the payment intent and the invoice (see
`FailureFacts`); the output is exactly one `Bucket`. Precedence, first match wins:

  1. no payment method on file                         → missing_payment_method
  2. a fraud decline code or a Radar block              → fraud_related (never reveal why)
  3. the payment intent waits for the customer (3DS)    → authentication_required
  4. the network's advice code (Stripe: prefer it)      → temporary / payments_stopped / card_data,
     except that "try again later" on a funds decline stays insufficient_funds: the advice
     says whether to retry, the decline code says why (Stripe's retries run in both buckets)
  5. the decline code, then the failure code, by table  → the table's bucket
  6. an issuer decline with no code at all              → issuer_refused
  7. anything else, e.g. a code we do not know          → needs_review, showing the raw code

A separate function reads context (CRM, tickets, subscription, history) for the high-risk
churn signal, which is a flag on top of the bucket, never a bucket of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any


class Bucket(StrEnum):
    """The next-step buckets of a failed payment."""

    temporary = "temporary"
    insufficient_funds = "insufficient_funds"
    card_data = "card_data"
    authentication_required = "authentication_required"
    missing_payment_method = "missing_payment_method"
    issuer_refused = "issuer_refused"
    payments_stopped = "payments_stopped"
    fraud_related = "fraud_related"
    needs_review = "needs_review"


BUCKET_LABELS: dict[Bucket, str] = {
    Bucket.temporary: "Temporary — let retries run",
    Bucket.insufficient_funds: "Insufficient funds — Stripe retries",
    Bucket.card_data: "Card data wrong or expired",
    Bucket.authentication_required: "Authentication required",
    Bucket.missing_payment_method: "Missing payment method",
    Bucket.issuer_refused: "Issuer refused",
    Bucket.payments_stopped: "Payments stopped by cardholder",
    Bucket.fraud_related: "Fraud-related",
    Bucket.needs_review: "Needs review",
}

# Decline codes by next step (STRIPE.md "Declines"). Built bucket → codes so a reader sees the
# table; inverted below, with a check that no code sits in two buckets.
DECLINE_TABLE: dict[Bucket, frozenset[str]] = {
    Bucket.temporary: frozenset(
        {"approve_with_id", "issuer_not_available", "reenter_transaction", "try_again_later",
         "processing_error"}
    ),
    Bucket.insufficient_funds: frozenset(
        {"insufficient_funds", "withdrawal_count_limit_exceeded", "card_velocity_exceeded"}
    ),
    Bucket.card_data: frozenset(
        {"incorrect_number", "incorrect_cvc", "incorrect_zip", "incorrect_pin", "invalid_number",
         "invalid_cvc", "invalid_pin", "invalid_expiry_month", "invalid_expiry_year",
         "expired_card"}
    ),
    Bucket.authentication_required: frozenset({"authentication_required"}),
    Bucket.issuer_refused: frozenset(
        {"call_issuer", "do_not_honor", "generic_decline", "card_not_supported",
         "currency_not_supported", "invalid_account", "invalid_amount",
         "new_account_information_available", "no_action_taken", "not_permitted",
         "restricted_card", "security_violation", "service_not_allowed",
         "transaction_not_allowed"}
    ),
    Bucket.payments_stopped: frozenset(
        {"do_not_try_again", "stop_payment_order", "revocation_of_authorization",
         "revocation_of_all_authorizations"}
    ),
    Bucket.fraud_related: frozenset(
        {"fraudulent", "lost_card", "stolen_card", "pickup_card", "merchant_blacklist"}
    ),
    # duplicate_transaction (check for an existing payment) and testmode_decline need a person.
    Bucket.needs_review: frozenset({"duplicate_transaction", "testmode_decline"}),
}  # fmt: skip

# Charge / last_payment_error `code`s that are not decline codes (bank debits, PI errors).
FAILURE_CODE_TABLE: dict[str, Bucket] = {
    "payment_intent_authentication_failure": Bucket.authentication_required,
    "card_decline_rate_limit_exceeded": Bucket.temporary,
    "account_closed": Bucket.payments_stopped,
    "debit_not_authorized": Bucket.payments_stopped,
    "no_account": Bucket.card_data,
    "account_number_invalid": Bucket.card_data,
    "bank_account_restricted": Bucket.issuer_refused,
    "payment_method_not_available": Bucket.temporary,
    "payment_method_provider_decline": Bucket.issuer_refused,
    "payment_intent_payment_attempt_failed": Bucket.needs_review,
    "payment_method_missing": Bucket.missing_payment_method,
    "invoice_no_payment_method_types": Bucket.missing_payment_method,
    "invoice_no_customer_line_items": Bucket.needs_review,
}

ADVICE_TABLE: dict[str, Bucket] = {
    "try_again_later": Bucket.temporary,
    "do_not_try_again": Bucket.payments_stopped,
    "confirm_card_data": Bucket.card_data,
}

# Radar outcome reasons that mean a block for risk, whatever the (absent) decline code.
FRAUD_OUTCOME_REASONS = frozenset({"highest_risk_level"})


def _invert(table: Mapping[Bucket, frozenset[str]]) -> dict[str, Bucket]:
    out: dict[str, Bucket] = {}
    for bucket, codes in table.items():
        for code in codes:
            if code in out:
                raise ValueError(f"decline code {code} is in two buckets")
            out[code] = bucket
    return out


CODE_TO_BUCKET: dict[str, Bucket] = _invert(DECLINE_TABLE)


@dataclass(frozen=True)
class NextStep:
    """What a bucket means for the team: retry or not, what to do, whether to name the reason."""

    retry: bool
    action: str
    reveal_reason: bool


NEXT_STEPS: dict[Bucket, NextStep] = {
    Bucket.temporary: NextStep(True, "let_retries_run", True),
    Bucket.insufficient_funds: NextStep(True, "remind_with_invoice_link", True),
    Bucket.card_data: NextStep(False, "ask_for_card_update", True),
    Bucket.authentication_required: NextStep(False, "send_hosted_invoice_link", True),
    Bucket.missing_payment_method: NextStep(False, "ask_for_payment_method", True),
    Bucket.issuer_refused: NextStep(False, "ask_for_another_card", True),
    Bucket.payments_stopped: NextStep(False, "do_not_retry_contact_customer", True),
    Bucket.fraud_related: NextStep(False, "do_not_retry_review_account", False),
    Bucket.needs_review: NextStep(False, "review_manually", True),
}


@dataclass(frozen=True)
class FailureFacts:
    """Everything classification reads, as plain values (None when unknown)."""

    advice_code: str | None = None
    decline_code: str | None = None
    failure_code: str | None = None
    outcome_type: str | None = None
    outcome_reason: str | None = None
    network_status: str | None = None
    payment_intent_status: str | None = None
    has_payment_method: bool | None = None


@dataclass(frozen=True)
class Classification:
    """One bucket, why, and the raw code that led there (shown for needs_review)."""

    bucket: Bucket
    reason: str
    raw_code: str | None
    next_step: NextStep


def _norm(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text or None


def classify(facts: FailureFacts) -> Classification:
    """Put one failure into exactly one bucket (see the module docstring for precedence)."""
    advice = _norm(facts.advice_code)
    decline = _norm(facts.decline_code)
    failure = _norm(facts.failure_code)
    # "card_declined" only says a decline code follows; it is never the interesting code.
    failure = None if failure == "card_declined" else failure
    raw = decline or failure or advice

    def result(bucket: Bucket, reason: str) -> Classification:
        return Classification(bucket, reason, raw, NEXT_STEPS[bucket])

    if facts.has_payment_method is False and not decline:
        return result(Bucket.missing_payment_method, "no payment method on file")
    for code in (decline, failure):
        if code and CODE_TO_BUCKET.get(code) is Bucket.fraud_related:
            return result(Bucket.fraud_related, f"decline code {code}")
    if _norm(facts.outcome_type) == "blocked" or (
        _norm(facts.outcome_reason) in FRAUD_OUTCOME_REASONS and not decline
    ):
        return result(Bucket.fraud_related, "blocked by risk screening")
    if _norm(facts.payment_intent_status) == "requires_action":
        # No retry can succeed until the customer authenticates, whatever the advice says.
        return result(Bucket.authentication_required, "payment needs customer authentication")
    if advice in ADVICE_TABLE:
        bucket = ADVICE_TABLE[advice]
        if bucket is Bucket.temporary:
            for code in (decline, failure):
                if code and CODE_TO_BUCKET.get(code) is Bucket.insufficient_funds:
                    return result(
                        Bucket.insufficient_funds, f"decline code {code}, advice {advice}"
                    )
        return result(bucket, f"advice code {advice}")
    for code in (decline, failure):
        if code in CODE_TO_BUCKET:
            return result(CODE_TO_BUCKET[code], f"decline code {code}")
        if code in FAILURE_CODE_TABLE:
            return result(FAILURE_CODE_TABLE[code], f"failure code {code}")
        if code:
            return result(Bucket.needs_review, f"unknown code {code}")
    if advice:
        return result(Bucket.needs_review, f"unknown advice code {advice}")
    if _norm(facts.outcome_type) == "issuer_declined" or _norm(facts.network_status) == (
        "declined_by_network"
    ):
        return result(Bucket.issuer_refused, "declined by the issuer without a code")
    if facts.has_payment_method is False:
        return result(Bucket.missing_payment_method, "no payment method on file")
    return result(Bucket.needs_review, "no decline information")


def facts_from_stripe(
    charge: Mapping[str, Any] | None,
    payment_intent: Mapping[str, Any] | None,
    *,
    has_payment_method: bool | None = None,
) -> FailureFacts:
    """Read the decline fields of a charge and/or payment intent (either may be missing)."""
    charge = charge or {}
    pi = payment_intent or {}
    raw_outcome, raw_err = charge.get("outcome"), pi.get("last_payment_error")
    outcome: Mapping[str, Any] = raw_outcome if isinstance(raw_outcome, Mapping) else {}
    err: Mapping[str, Any] = raw_err if isinstance(raw_err, Mapping) else {}
    return FailureFacts(
        advice_code=outcome.get("advice_code") or err.get("advice_code"),
        decline_code=err.get("decline_code")
        or charge.get("decline_code")
        or _outcome_decline(outcome),
        failure_code=charge.get("failure_code") or err.get("code"),
        outcome_type=outcome.get("type"),
        outcome_reason=outcome.get("reason"),
        network_status=outcome.get("network_status"),
        payment_intent_status=pi.get("status"),
        has_payment_method=has_payment_method,
    )


def _outcome_decline(outcome: Mapping[str, Any]) -> str | None:
    # For issuer declines Stripe puts the decline code in outcome.reason.
    reason = outcome.get("reason")
    if outcome.get("type") == "issuer_declined" and isinstance(reason, str):
        return reason
    return None


# --- high-risk churn signal ----------------------------------------------------------------

COMPLAINT_WORDS = re.compile(
    r"\b(refund|chargeback|dispute|cancel\w*|complain\w*|unhappy|angry|terminate|"
    r"access exception|downgrade)\b",
    re.IGNORECASE,
)


# Ticket states in which the help desk still owes the customer an answer.
RESOLVED_TICKET_STATES = frozenset({"solved", "closed", "resolved", "done", "archived"})
# Tags (as the help-desk import normalises them; a ticket's priority arrives as "priority_<p>")
# that mark a complaint someone has to answer.
COMPLAINT_TAGS = frozenset({"complaint", "escalation", "escalated", "priority_high",
                            "priority_urgent", "urgent"})  # fmt: skip


@dataclass(frozen=True)
class ChurnContext:
    """What the context says about a customer (all optional: missing context is just missing)."""

    pending_cancellation: bool = False
    crm_flags: tuple[str, ...] = ()
    renewal_date: date | None = None  # the next renewal (CRM, else the subscription's period end)
    last_renewal: date | None = None  # the current period's start (the renewal just billed)
    plan_months: int | None = None  # billing interval in months (12 = annual); None = unknown
    tickets: tuple[
        tuple[str, str, datetime, tuple[str, ...]], ...
    ] = ()  # subject, status, created, tags
    failed_invoices_90d: int = 0
    attempt_count: int = 0


def _open_ticket(status: str) -> bool:
    return (status or "").strip().lower() not in RESOLVED_TICKET_STATES


def churn_signals(
    ctx: ChurnContext,
    *,
    today: date,
    renewal_within_days: int = 30,
    ticket_lookback_days: int = 30,
    repeated_failures: int = 3,
    renewal_min_months: int = 12,
) -> list[str]:
    """The churn-risk signals present; a case is high risk when this is not empty.

    Tickets count only while the help desk has not resolved them. A renewal counts only for
    plans billed every `renewal_min_months` months or more (annual contracts): a monthly plan
    renews every month, which says nothing about this customer.
    """
    signals: list[str] = []
    if ctx.pending_cancellation or "pending_cancellation" in ctx.crm_flags:
        signals.append("pending_cancellation")
    since = today - timedelta(days=ticket_lookback_days)
    recent_open = [
        (subject, tags)
        for subject, status, created, tags in ctx.tickets
        if created.date() >= since and _open_ticket(status)
    ]
    if any(COMPLAINT_WORDS.search(" ".join((s, *t))) for s, t in recent_open):
        signals.append("refund_or_complaint_ticket")
    if any(COMPLAINT_TAGS & {t.strip().lower() for t in tags} for _, tags in recent_open):
        signals.append("open_complaint")
    if ctx.attempt_count >= repeated_failures or ctx.failed_invoices_90d >= 2:
        signals.append("repeated_failures")
    if _long_plan_renewal_close(ctx, today, renewal_within_days, renewal_min_months):
        signals.append("renewal_close")
    return signals


def _long_plan_renewal_close(ctx: ChurnContext, today: date, days: int, min_months: int) -> bool:
    if ctx.plan_months is None or ctx.plan_months < min_months:
        return False
    ahead = ctx.renewal_date is not None and 0 <= (ctx.renewal_date - today).days <= days
    just_billed = ctx.last_renewal is not None and 0 <= (today - ctx.last_renewal).days <= days
    return ahead or just_billed


def all_codes() -> Iterable[str]:
    """Every decline code the table knows (for tests and the docs)."""
    return CODE_TO_BUCKET.keys()
