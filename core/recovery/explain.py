"""Why a failed payment sits in its bucket, as one sentence a finance lead can read (pure).

The code descriptions follow Stripe's decline code reference
(https://docs.stripe.com/declines/codes), reworded for the finance team; the sentence adds
what the bucket means for the next step (Stripe retries, card update, do not retry, ...).
These sentences are for the team only: customer messages never name a fraud reason.
"""

from __future__ import annotations

from core.recovery.classification import BUCKET_LABELS, NEXT_STEPS, Bucket

_UNKNOWN_REASON = "the issuer declined the card without giving a reason"
_BALANCE_LIMIT = "the customer has gone over the balance or credit limit available on the card"

# Stripe decline code → what it means (Stripe's description, in the team's words).
DECLINE_DESCRIPTIONS: dict[str, str] = {
    "approve_with_id": "the issuer could not authorise the payment",
    "authentication_required": (
        "the issuer asks for authentication such as 3D Secure before it approves the payment"
    ),
    "call_issuer": _UNKNOWN_REASON + "; the customer has to call their bank",
    "card_not_supported": "the card does not support this type of purchase",
    "card_velocity_exceeded": _BALANCE_LIMIT,
    "currency_not_supported": "the card does not support the invoice's currency",
    "do_not_honor": _UNKNOWN_REASON,
    "do_not_try_again": "the issuer declined the card and asks not to try it again",
    "duplicate_transaction": (
        "a payment with the same amount and card was made moments before; check for a payment "
        "that already went through"
    ),
    "expired_card": "the card has expired",
    "fraudulent": "Stripe or the issuer suspects the payment is fraudulent",
    "generic_decline": _UNKNOWN_REASON,
    "incorrect_cvc": "the card's security code (CVC) is wrong",
    "incorrect_number": "the card number is wrong",
    "incorrect_pin": "the PIN entered is wrong",
    "incorrect_zip": "the postal code does not match the card's billing address",
    "insufficient_funds": "the customer's account did not have enough money",
    "invalid_account": "the card, or the account it draws on, is not valid",
    "invalid_amount": "the amount is invalid or above what the card allows",
    "invalid_cvc": "the card's security code (CVC) is wrong",
    "invalid_expiry_month": "the card's expiry month is not valid",
    "invalid_expiry_year": "the card's expiry year is not valid",
    "invalid_number": "the card number is not valid",
    "invalid_pin": "the PIN entered is wrong",
    "issuer_not_available": "the card's bank could not be reached to approve the payment",
    "lost_card": "the card has been reported lost",
    "merchant_blacklist": "the payment matches an entry on the business's block list",
    "new_account_information_available": (
        "the card or its account has changed and the bank has new details for it"
    ),
    "no_action_taken": _UNKNOWN_REASON,
    "not_permitted": "the bank does not permit this payment",
    "pickup_card": "the card may not be used any more (it may have been reported lost or stolen)",
    "processing_error": "an error occurred while the card was being processed",
    "reenter_transaction": "the bank could not process the payment for an unknown reason",
    "restricted_card": "the card cannot be used for this payment (it may be lost or stolen)",
    "revocation_of_all_authorizations": (
        "the cardholder withdrew every standing authorisation on this card"
    ),
    "revocation_of_authorization": "the cardholder withdrew the authorisation for this business",
    "security_violation": _UNKNOWN_REASON,
    "service_not_allowed": _UNKNOWN_REASON,
    "stolen_card": "the card has been reported stolen",
    "stop_payment_order": "the cardholder asked the bank to stop payments to this business",
    "testmode_decline": "a Stripe test card was used",
    "transaction_not_allowed": _UNKNOWN_REASON,
    "try_again_later": "the bank declined the payment for now and suggests trying again later",
    "withdrawal_count_limit_exceeded": _BALANCE_LIMIT,
    # Payment failure codes that are not card decline codes (bank debits, payment intents).
    "payment_intent_authentication_failure": "the customer did not complete authentication",
    "card_decline_rate_limit_exceeded": "the card was declined too many times in a short while",
    "account_closed": "the customer's bank account is closed",
    "debit_not_authorized": "the customer told their bank this debit was not authorised",
    "no_account": "the bank account could not be found",
    "account_number_invalid": "the bank account number is not valid",
    "bank_account_restricted": "the bank account cannot take this kind of payment",
    "payment_method_not_available": "the payment method was briefly unavailable",
    "payment_method_provider_decline": "the payment method's provider declined the payment",
    "payment_method_missing": "there is no payment method to charge",
    "invoice_no_payment_method_types": "the invoice allows no payment method the customer has",
    "invoice_no_customer_line_items": "the invoice has no line items to charge",
    "payment_intent_payment_attempt_failed": "the latest payment attempt failed",
}

# Bucket → (what happened, in the lead of the sentence).
BUCKET_LEADS: dict[Bucket, str] = {
    Bucket.temporary: "The bank could not complete the payment just now",
    Bucket.insufficient_funds: "The card was declined for insufficient funds",
    Bucket.card_data: "The card details are wrong or out of date",
    Bucket.authentication_required: "The bank wants the customer to confirm the payment",
    Bucket.missing_payment_method: "There is no payment method on file",
    Bucket.issuer_refused: "The card's bank refused the payment",
    Bucket.payments_stopped: "The cardholder has stopped payments to this business",
    Bucket.fraud_related: "The payment was declined as possible fraud",
    Bucket.needs_review: "This decline is not one the desk knows how to handle",
}

# Bucket → what follows for the team (retry buckets say when Stripe tries again).
BUCKET_NEXT: dict[Bucket, str] = {
    Bucket.temporary: "nothing to do unless the retries fail",
    Bucket.insufficient_funds: (
        "a reminder with the invoice link lets the customer add funds or switch card before then"
    ),
    Bucket.card_data: "retrying the same card will fail: ask the customer to update the card",
    Bucket.authentication_required: (
        "no retry can succeed until the customer confirms it: send them the invoice link"
    ),
    Bucket.missing_payment_method: "ask the customer to add a payment method",
    Bucket.issuer_refused: "ask the customer to call their bank or use another card",
    Bucket.payments_stopped: "do not retry: contact the customer",
    Bucket.fraud_related: (
        "do not retry and never tell the customer why: review the account first"
    ),
    Bucket.needs_review: "a person should look at the code before anything is sent",
}
NO_RETRY_LEFT = "send the customer the invoice link to pay or switch card"


def describe_code(code: str | None) -> str | None:
    """Stripe's description of a decline or failure code, or None when it is not known."""
    return DECLINE_DESCRIPTIONS.get((code or "").strip().lower()) if code else None


STEP_WORDS = {
    "let_retries_run": "Let Stripe's retries run",
    "do_not_retry_contact_customer": "Do not retry; contact the customer",
    "do_not_retry_review_account": "Do not retry; review the account",
    "personal_follow_up": "Personal follow-up",
    "review_account_do_not_retry": "Review the account; do not retry",
    "hold_dunning_check_dispute": "Hold reminders; check the open dispute",
    "call_customer_before_dunning": "Call the customer before any reminder",
    "read_ticket_then_contact": "Read the ticket, then contact the customer",
    "resolve_before_renewal": "Resolve before the renewal",
}


def next_step(action: str | None) -> str:
    """A recommended action in words: 'ask_for_card_update' → 'Ask for card update'."""
    if not action:
        return "—"
    words = STEP_WORDS.get(action) or action.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def failure_summary(bucket: str, raw_code: str | None) -> str:
    """A failed attempt in words: "Issuer refused: the issuer declined the card without giving a
    reason" (the bucket's label, then Stripe's description of the code, else the code)."""
    try:
        name = BUCKET_LABELS[Bucket(bucket)]
    except ValueError:
        name = bucket.replace("_", " ")
    if not raw_code:
        return name
    described = describe_code(raw_code)
    return f"{name}: {described}" if described else f"{name} (code {raw_code})"


def why_bucket(bucket: str, raw_code: str | None, next_retry: str | None = None) -> str:
    """One sentence: what the bank said, what the code means, and what happens next.

    `next_retry` is the date of Stripe's next automatic attempt as the reader should see it
    (None when no retry is scheduled).
    """
    try:
        b = Bucket(bucket)
    except ValueError:
        b = Bucket.needs_review
    lead = BUCKET_LEADS[b]
    code = (raw_code or "").strip().lower() or None
    desc = describe_code(code)
    if code and desc:
        lead = f"{lead} ({code}): {desc}."
    elif code:
        lead = f"{lead} (code {code}, which Stripe's decline reference does not list)."
    else:
        lead = f"{lead} (Stripe gave no decline code)."
    follow = BUCKET_NEXT[b]
    if NEXT_STEPS[b].retry:
        if not next_retry:
            return f"{lead} Stripe has no retry left: {NO_RETRY_LEFT}."
        return f"{lead} Stripe will retry on {next_retry}; {follow}."
    return f"{lead} {follow[0].upper()}{follow[1:]}."
