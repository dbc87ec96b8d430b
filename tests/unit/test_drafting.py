"""Drafting: every bucket × channel × tone renders from a versioned template with Stripe facts."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from core.recovery.classification import Bucket
from core.recovery.drafting import CHANNELS, TONES, inputs_hash, render, resolve


def facts(**kw: Any) -> dict[str, Any]:
    base = {
        "customer_name": "Ana",
        "customer_id": "cus_1",
        "account_name": "Acme",
        "invoice_number": "in_123",
        "amount": "$49.00",
        "hosted_invoice_url": "https://invoice.stripe.com/i/in_123",
        "next_retry": "December 1, 2026",
        "attempt": 2,
        "sender_name": "The billing team",
        "bucket_label": "x",
        "recommended_action": "y",
        "rule_reasons": ["the amount due is above $1,000.00"],
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("bucket", "channel", "tone"), list(itertools.product(Bucket, CHANNELS, TONES))
)
def test_every_bucket_channel_tone_renders_with_link_and_amount(
    bucket: Bucket, channel: str, tone: str
) -> None:
    d = render(bucket, channel, tone, facts())
    assert d.subject and d.body
    assert "https://invoice.stripe.com/i/in_123" in d.body and "$49.00" in d.body
    assert d.ref.version.startswith("v") and d.ref.template_id.startswith("recovery/")
    assert d.locked_sentences and all(s in d.body for s in d.locked_sentences)


@pytest.mark.parametrize(("channel", "tone"), list(itertools.product(("email", "chat"), TONES)))
def test_fraud_drafts_never_state_the_reason(channel: str, tone: str) -> None:
    text = " ".join(
        (d := render(Bucket.fraud_related, channel, tone, facts())).subject.split() + [d.body]
    ).lower()
    for word in ("fraud", "stolen", "lost", "risk", "suspicious", "blocked", "pickup"):
        assert word not in text


def test_next_retry_date_appears_when_scheduled() -> None:
    assert "December 1, 2026" in render(Bucket.temporary, "email", "friendly", facts()).body
    assert (
        "try again"
        not in render(Bucket.temporary, "email", "friendly", facts(next_retry=None)).body
    )


def test_tone_specific_file_wins_and_tones_differ() -> None:
    assert (
        resolve("issuer_refused", "email", "formal").template_id
        == "recovery/issuer_refused.email.formal"
    )
    assert (
        resolve("issuer_refused", "email", "friendly").template_id
        == "recovery/issuer_refused.email"
    )
    assert resolve("card_data", "chat", "friendly").template_id == "recovery/default.chat"
    formal = render(Bucket.card_data, "email", "formal", facts()).body
    friendly = render(Bucket.card_data, "email", "friendly", facts()).body
    assert formal.startswith("Dear Ana,") and friendly.startswith("Hi Ana,")


def test_customer_text_is_rendered_as_data() -> None:
    d = render(Bucket.card_data, "email", "friendly", facts(customer_name="{{ 7*7 }} <b>x</b>"))
    assert d.body.startswith("Hi {{ 7*7 }} <b>x</b>,")


def test_inputs_hash_is_stable_and_sensitive() -> None:
    d = render(Bucket.card_data, "email", "friendly", facts())
    a = inputs_hash(case_key="in_1", attempt=1, draft=d, facts=facts(), model=None)
    assert a == inputs_hash(case_key="in_1", attempt=1, draft=d, facts=facts(), model=None)
    assert a != inputs_hash(case_key="in_1", attempt=2, draft=d, facts=facts(), model=None)
    assert a != inputs_hash(case_key="in_1", attempt=1, draft=d, facts=facts(), model="gpt-4o-mini")
