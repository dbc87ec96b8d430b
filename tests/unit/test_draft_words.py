"""Customer-facing drafts speak of invoice numbers and names, never of Stripe ids."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest

from core.models.recovery import RecoveryCase
from core.recovery.classification import Bucket
from core.recovery.drafting import TONES, _catalogue, render
from core.recovery.drafts import draft_facts, invoice_reference
from core.recovery.predunning import ExpiringCard, card_facts
from core.recovery.rules import RecoverySettings

STRIPE_ID = re.compile(r"\b(?:in|cus|ch|pi|sub|dp|du|py|re|txn|evt)_[A-Za-z0-9]{3,}")
CUSTOMER_CHANNELS = ("email", "chat")
NUMBER = "A9WNODH8-13393"
FAILED_AT = int(datetime(2025, 12, 5, 9, 30, tzinfo=UTC).timestamp())


def case(bucket: Bucket, name: str | None = "Ana Lima") -> RecoveryCase:
    return RecoveryCase(
        invoice_id="in_YGEFGxBbRc1234",
        customer_id="cus_Q8xYzA1b2C",
        customer_email="ana@example.com",
        customer_name=name,
        subscription_id="sub_1PzKx9",
        payment_intent_id="pi_3PzKx9",
        charge_id="ch_3PzKx9",
        currency="usd",
        amount_due=175100,
        amount_remaining=175100,
        hosted_invoice_url="https://invoice.stripe.com/i/acct_1Abc/test_YWNjdF8xTz",
        bucket=str(bucket),
        attempt_count=2,
        next_payment_attempt=FAILED_AT + 3 * 86400,
        first_failed_at=FAILED_AT,
        recommended_action="send_card_update_link",
        rule_hits=[{"reason": "amount due above $1,000.00"}],
    )


def customer_templates() -> list[str]:
    stems = {stem.split(".")[0] for stem in _catalogue() if stem.split(".")[1] != "task"}
    return sorted(stems - {"card_update", "default"})


def text_of(bucket: str, channel: str, tone: str, facts: dict) -> str:
    d = render(bucket, channel, tone, facts)
    return f"{d.subject}\n{d.body}"


@pytest.mark.parametrize(
    ("bucket", "channel", "tone", "number"),
    list(itertools.product(list(Bucket), CUSTOMER_CHANNELS, TONES, (NUMBER, None))),
)
def test_dunning_drafts_name_the_invoice_by_number_never_by_id(
    bucket: Bucket, channel: str, tone: str, number: str | None
) -> None:
    facts = draft_facts(case(bucket), RecoverySettings(), invoice_number=number)
    text = text_of(bucket, channel, tone, facts)
    assert not STRIPE_ID.search(text), STRIPE_ID.findall(text)
    assert (NUMBER if number else "dated December 5, 2025") in text
    assert "$1,751.00" in text


@pytest.mark.parametrize(("channel", "tone"), list(itertools.product(CUSTOMER_CHANNELS, TONES)))
def test_card_update_drafts_carry_no_ids(channel: str, tone: str) -> None:
    card = ExpiringCard(
        "sub_1PzKx9", "cus_Q8xYzA1b2C", "ana@example.com", None, "4242", 1, 2026, ""
    )
    text = text_of("card_update", channel, tone, card_facts(card, None, RecoverySettings()))
    assert not STRIPE_ID.search(text), STRIPE_ID.findall(text)
    assert "4242" in text and "January 2026" in text


def test_every_customer_template_is_covered() -> None:
    assert set(customer_templates()) <= {str(b) for b in Bucket}


def test_invoice_reference_prefers_the_number_then_the_date() -> None:
    assert invoice_reference(NUMBER, FAILED_AT) == NUMBER
    assert invoice_reference(None, FAILED_AT) == "dated December 5, 2025"
    assert invoice_reference("", None) == "on your account"
