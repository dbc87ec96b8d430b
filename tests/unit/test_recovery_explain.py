"""'Why this bucket': one sentence with Stripe's description of the decline and the next step."""

from __future__ import annotations

import pytest

from core.recovery.classification import CODE_TO_BUCKET, FAILURE_CODE_TABLE, Bucket
from core.recovery.explain import BUCKET_LEADS, BUCKET_NEXT, DECLINE_DESCRIPTIONS, why_bucket


def test_every_known_code_has_a_description() -> None:
    assert set(CODE_TO_BUCKET) <= set(DECLINE_DESCRIPTIONS)
    assert set(FAILURE_CODE_TABLE) <= set(DECLINE_DESCRIPTIONS)
    assert set(BUCKET_LEADS) == set(BUCKET_NEXT) == set(Bucket)


def test_insufficient_funds_sentence_names_the_code_its_meaning_and_the_retry() -> None:
    text = why_bucket("insufficient_funds", "insufficient_funds", "Sat 05 Dec 2026")
    assert text == (
        "The card was declined for insufficient funds (insufficient_funds): the customer's "
        "account did not have enough money. Stripe will retry on Sat 05 Dec 2026; a reminder "
        "with the invoice link lets the customer add funds or switch card before then."
    )
    assert "no retry left" in why_bucket("insufficient_funds", "insufficient_funds", None)


@pytest.mark.parametrize(
    ("bucket", "code", "words"),
    [
        ("card_data", "expired_card", ["(expired_card): the card has expired.", "update the card"]),
        ("payments_stopped", "stop_payment_order", ["stop payments", "Do not retry"]),
        ("fraud_related", "stolen_card", ["reported stolen", "never tell the customer why"]),
        ("temporary", "processing_error", ["Stripe will retry on 1 Dec", "processing"]),
        ("needs_review", "brand_new_2027", ["(code brand_new_2027, which Stripe"]),
        ("missing_payment_method", None, ["Stripe gave no decline code"]),
    ],
)
def test_sentences_per_bucket(bucket: str, code: str | None, words: list[str]) -> None:
    text = why_bucket(bucket, code, "1 Dec")
    assert all(w in text for w in words), text
    assert "raw code" not in text and text.endswith(".")


def test_an_unknown_bucket_reads_as_needs_review() -> None:
    assert why_bucket("made_up", None).startswith(BUCKET_LEADS[Bucket.needs_review])
