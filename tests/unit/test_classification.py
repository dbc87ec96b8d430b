"""Classification: every decline code of STRIPE.md, precedence, unknown codes, churn signals."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.recovery.classification import (
    CODE_TO_BUCKET,
    DECLINE_TABLE,
    Bucket,
    ChurnContext,
    FailureFacts,
    churn_signals,
    classify,
    facts_from_stripe,
)

STRIPE_MD = Path("/work/shared/docs/STRIPE.md")

# The table from STRIPE.md "Declines", row by row, as the finance team reads it.
EXPECTED: dict[str, Bucket] = {
    **dict.fromkeys(
        ["approve_with_id", "issuer_not_available", "reenter_transaction", "try_again_later",
         "processing_error"], Bucket.temporary),
    **dict.fromkeys(
        ["insufficient_funds", "withdrawal_count_limit_exceeded", "card_velocity_exceeded"],
        Bucket.insufficient_funds),
    **dict.fromkeys(
        ["incorrect_number", "incorrect_cvc", "incorrect_zip", "incorrect_pin", "invalid_number",
         "invalid_cvc", "invalid_pin", "invalid_expiry_month", "invalid_expiry_year",
         "expired_card"], Bucket.card_data),
    "authentication_required": Bucket.authentication_required,
    **dict.fromkeys(
        ["call_issuer", "do_not_honor", "generic_decline", "card_not_supported",
         "currency_not_supported", "invalid_account", "invalid_amount",
         "new_account_information_available", "no_action_taken", "not_permitted",
         "restricted_card", "security_violation", "service_not_allowed",
         "transaction_not_allowed"], Bucket.issuer_refused),
    **dict.fromkeys(
        ["do_not_try_again", "stop_payment_order", "revocation_of_authorization",
         "revocation_of_all_authorizations"], Bucket.payments_stopped),
    **dict.fromkeys(
        ["fraudulent", "lost_card", "stolen_card", "pickup_card", "merchant_blacklist"],
        Bucket.fraud_related),
    "duplicate_transaction": Bucket.needs_review,
    "testmode_decline": Bucket.needs_review,
}  # fmt: skip


def codes_in_stripe_md() -> set[str]:
    text = STRIPE_MD.read_text(encoding="utf-8")
    section = text.split("Decline codes by what to do next", 1)[1].split("## Disputes", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("|") and "`" in ln]
    return {c for ln in rows for c in re.findall(r"`([a-z_]+)`", ln.split("|")[2])}


def test_expected_table_lists_every_code_of_stripe_md() -> None:
    assert codes_in_stripe_md() == set(EXPECTED)


@pytest.mark.parametrize(("code", "bucket"), sorted(EXPECTED.items()))
def test_each_decline_code_lands_in_its_bucket(code: str, bucket: Bucket) -> None:
    assert classify(FailureFacts(decline_code=code, failure_code="card_declined")).bucket is bucket
    # the same code as a charge failure_code (no decline_code) is read the same way
    assert classify(FailureFacts(failure_code=code)).bucket is bucket


def test_table_and_code_map_agree_and_no_code_has_two_buckets() -> None:
    assert CODE_TO_BUCKET == EXPECTED
    seen = [c for codes in DECLINE_TABLE.values() for c in codes]
    assert len(seen) == len(set(seen))


def test_unknown_code_needs_review_and_keeps_the_raw_code() -> None:
    result = classify(FailureFacts(decline_code="brand_new_decline_2027"))
    assert result.bucket is Bucket.needs_review
    assert result.raw_code == "brand_new_decline_2027"


@pytest.mark.parametrize(
    ("advice", "decline", "bucket"),
    [
        ("try_again_later", "do_not_honor", Bucket.temporary),
        ("do_not_try_again", "generic_decline", Bucket.payments_stopped),
        ("do_not_try_again", "insufficient_funds", Bucket.payments_stopped),
        ("confirm_card_data", "do_not_honor", Bucket.card_data),
        (
            "do_not_try_again",
            "stolen_card",
            Bucket.fraud_related,
        ),  # never reveal beats advice
    ],
)
def test_advice_codes_take_precedence(advice: str, decline: str, bucket: Bucket) -> None:
    assert classify(FailureFacts(advice_code=advice, decline_code=decline)).bucket is bucket


@pytest.mark.parametrize(
    "code", ["insufficient_funds", "withdrawal_count_limit_exceeded", "card_velocity_exceeded"]
)
def test_funds_declines_keep_their_own_bucket_under_try_again_later(code: str) -> None:
    # Stripe sends insufficient_funds with advice_code try_again_later: the advice says "retry",
    # the decline code says why; the case belongs with the funds declines, not "Temporary".
    result = classify(FailureFacts(advice_code="try_again_later", decline_code=code))
    assert result.bucket is Bucket.insufficient_funds
    assert result.next_step.retry is True
    assert result.raw_code == code


def test_stripe_shaped_insufficient_funds_charge_is_insufficient_funds() -> None:
    charge = {
        "failure_code": "card_declined",
        "outcome": {
            "type": "issuer_declined",
            "reason": "insufficient_funds",
            "advice_code": "try_again_later",
            "network_status": "declined_by_network",
        },
    }
    pi = {
        "status": "requires_payment_method",
        "last_payment_error": {
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "advice_code": "try_again_later",
        },
    }
    assert classify(facts_from_stripe(charge, pi)).bucket is Bucket.insufficient_funds
    assert classify(facts_from_stripe(charge, None)).bucket is Bucket.insufficient_funds


def test_other_signals() -> None:
    assert classify(FailureFacts(has_payment_method=False)).bucket is Bucket.missing_payment_method
    assert classify(
        FailureFacts(outcome_type="blocked", outcome_reason="highest_risk_level")
    ).bucket is (Bucket.fraud_related)
    assert classify(FailureFacts(payment_intent_status="requires_action")).bucket is (
        Bucket.authentication_required
    )
    assert classify(FailureFacts(outcome_type="issuer_declined")).bucket is Bucket.issuer_refused
    assert classify(FailureFacts()).bucket is Bucket.needs_review
    fraud = classify(FailureFacts(decline_code="lost_card"))
    assert fraud.next_step.reveal_reason is False and fraud.next_step.retry is False


def test_facts_from_stripe_objects() -> None:
    charge = {
        "failure_code": "card_declined",
        "outcome": {
            "type": "issuer_declined",
            "reason": "expired_card",
            "network_status": "declined_by_network",
        },
    }
    assert classify(facts_from_stripe(charge, None)).bucket is Bucket.card_data
    pi = {
        "status": "requires_payment_method",
        "last_payment_error": {
            "code": "card_declined",
            "decline_code": "insufficient_funds",
        },
    }
    assert classify(facts_from_stripe(None, pi)).bucket is Bucket.insufficient_funds


maybe_code = st.one_of(
    st.none(),
    st.sampled_from(sorted(EXPECTED) + ["card_declined", "try_again_later", "confirm_card_data"]),
    st.text(max_size=20),
)


@given(
    advice=maybe_code,
    decline=maybe_code,
    failure=maybe_code,
    outcome=st.one_of(
        st.none(),
        st.sampled_from(["authorized", "manual_review", "issuer_declined", "blocked", "invalid"]),
    ),
    network=st.one_of(
        st.none(),
        st.sampled_from(
            [
                "approved_by_network",
                "declined_by_network",
                "not_sent_to_network",
                "reversed_after_approval",
            ]
        ),
    ),
    pi_status=st.one_of(
        st.none(),
        st.sampled_from(["requires_payment_method", "requires_action", "processing", "canceled"]),
    ),
    has_pm=st.one_of(st.none(), st.booleans()),
)
def test_every_input_lands_in_exactly_one_bucket(
    advice, decline, failure, outcome, network, pi_status, has_pm
) -> None:  # type: ignore[no-untyped-def]
    facts = FailureFacts(advice, decline, failure, outcome, None, network, pi_status, has_pm)
    result = classify(facts)
    assert isinstance(result.bucket, Bucket)
    assert classify(facts) == result  # deterministic
    # a known decline code never lands in a bucket other than its own, or a safer override
    code = (decline or "").strip().lower()
    if code in EXPECTED and not advice and pi_status != "requires_action" and outcome != "blocked":
        assert result.bucket in {EXPECTED[code], Bucket.fraud_related}


@given(code=st.text(min_size=1, max_size=30))
def test_unknown_codes_never_land_in_a_wrong_bucket(code: str) -> None:
    norm = code.strip().lower()
    result = classify(FailureFacts(decline_code=code))
    if norm and norm not in EXPECTED and norm != "card_declined":
        from core.recovery.classification import FAILURE_CODE_TABLE

        assert result.bucket in {
            Bucket.needs_review,
            FAILURE_CODE_TABLE.get(norm, Bucket.needs_review),
        }


def test_churn_signals() -> None:
    today = date(2026, 11, 20)
    ctx = ChurnContext(
        crm_flags=("pending_cancellation",),
        renewal_date=date(2026, 12, 1),
        plan_months=12,
        tickets=(
            (
                "Please refund last month",
                "open",
                datetime(2026, 11, 15, tzinfo=UTC),
                (),
            ),
        ),
        attempt_count=3,
    )
    assert churn_signals(ctx, today=today) == [
        "pending_cancellation",
        "refund_or_complaint_ticket",
        "repeated_failures",
        "renewal_close",
    ]
    quiet = ChurnContext(
        tickets=(
            (
                "How do I export invoices?",
                "solved",
                datetime(2026, 11, 15, tzinfo=UTC),
                (),
            ),
        ),
        renewal_date=date(2027, 6, 1),
    )
    assert churn_signals(quiet, today=today) == []


def test_renewal_counts_only_for_annual_or_longer_plans() -> None:
    today = date(2026, 11, 20)
    soon, just_billed = date(2026, 12, 1), date(2026, 11, 10)
    monthly = ChurnContext(renewal_date=soon, last_renewal=just_billed, plan_months=1)
    unknown = ChurnContext(renewal_date=soon, plan_months=None)
    annual_ahead = ChurnContext(renewal_date=soon, plan_months=12)
    annual_billed = ChurnContext(
        renewal_date=date(2027, 11, 10), last_renewal=just_billed, plan_months=12
    )
    annual_far = ChurnContext(
        renewal_date=date(2027, 6, 1), last_renewal=date(2026, 6, 1), plan_months=12
    )
    two_year = ChurnContext(renewal_date=soon, plan_months=24)
    assert churn_signals(monthly, today=today) == []
    assert churn_signals(unknown, today=today) == []
    assert churn_signals(annual_ahead, today=today) == ["renewal_close"]
    assert churn_signals(annual_billed, today=today) == ["renewal_close"]
    assert churn_signals(annual_far, today=today) == []
    assert churn_signals(two_year, today=today) == ["renewal_close"]


def test_only_open_tickets_count_and_complaint_tags_or_high_priority_flag_a_complaint() -> None:
    today = date(2026, 11, 20)
    recent = datetime(2026, 11, 15, tzinfo=UTC)

    def signals(*tickets: tuple[str, str, datetime, tuple[str, ...]]) -> list[str]:
        return churn_signals(ChurnContext(tickets=tickets), today=today)

    assert signals(("Refund request", "solved", recent, ())) == []
    assert signals(("Refund request", "pending", recent, ())) == ["refund_or_complaint_ticket"]
    assert signals(("Login help", "open", recent, ("priority_high",))) == ["open_complaint"]
    assert signals(("Login help", "open", recent, ("complaint",))) == [
        "refund_or_complaint_ticket",  # the word "complaint" in a tag
        "open_complaint",
    ]
    assert signals(("Login help", "closed", recent, ("priority_high",))) == []
    old = datetime(2026, 9, 1, tzinfo=UTC)
    assert signals(("Login help", "open", old, ("priority_high",))) == []
