"""The guard's text normalisation and claim extraction (core.adapters.guard_text)."""

from __future__ import annotations

import pytest

from core.adapters.guard_text import disguised_letters, normalise, profile, strip_facts


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("r\u200befund", "refund"),  # zero-width space
        ("r\u0435fund", "refund"),  # Cyrillic e
        ("Y\u03bfu \u03bfwe", "You owe"),  # Greek omicron
        ("\uff52\uff45\uff46\uff55\uff4e\uff44", "refund"),  # fullwidth
        ("\U0001d42b\U0001d41e\U0001d41f\U0001d42e\U0001d427\U0001d41d", "refund"),  # math bold
        ("dis\u00adcount", "discount"),  # soft hyphen
        ("won\u2019t", "won't"),
        ("a \n\n b\u00a0\tc", "a b c"),
        ("Jos\u00e9 M\u00fcller", "Jos\u00e9 M\u00fcller"),  # real accents stay
    ],
)
def test_normalise_undoes_disguises(raw: str, plain: str) -> None:
    assert normalise(raw) == plain


def test_disguised_letters_name_the_look_alikes_and_invisibles() -> None:
    assert disguised_letters("r\u0435f\u200bund") == ["\u0435", "U+200B"]
    assert disguised_letters("Jos\u00e9 M\u00fcller, \u2014 won\u2019t") == []


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("fifty percent", {"50"}),
        ("two extra weeks", {"2"}),
        ("twenty-five", {"25"}),
        ("f\u00fcnfzig Prozent", {"50"}),
        ("cinquante", {"50"}),
        ("dos semanas", {"2"}),
        ("half off", {"word:half"}),
        ("switch to a different one, once you can", set()),
        ("$49.00 on December 1, 2026", {"49", "00", "1", "2026"}),
    ],
)
def test_numbers_in_digits_and_words(text: str, numbers: set[str]) -> None:
    assert set(profile(normalise(text)).numbers) == numbers


@pytest.mark.parametrize(
    "text",
    [
        "bit.ly/pay-now-secure",
        "secure-billing.xyz/update",
        "secure-billing . xyz",
        "example[.]com",
        "pay-now(dot)top",
        "secure-billing dot xyz",
        "evil\u3002com",
        "h t t p s : / / x",
        "javascript:alert(1)",
    ],
)
def test_links_are_found_however_they_are_written(text: str) -> None:
    assert profile(normalise(text)).links


def test_plain_sentences_make_no_claims() -> None:
    found = profile(normalise("Hi there, feel free to switch at any time. Thanks, e.g. today"))
    assert not (found.links or found.promises or found.secrets or found.numbers)
    assert found.dates == {"today"}


def test_facts_are_removed_as_whole_words_only() -> None:
    assert strip_facts("Invoice in_1 and in_12.", ["in_1"]) == "Invoice fact and in_12."
