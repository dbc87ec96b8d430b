"""The rewrite guard against a corpus of hostile and benign rewrites, through the real client.

Every rewrite is served by an OpenAI-compatible endpoint on loopback and read through the real
`openai` client (core.adapters.llm), then judged by core.adapters.draft_guard exactly as a
recovery draft is. Hostile ones must fall back to the template with the expected reasons;
benign ones must be used as they are. The corpora are data (tests/fixtures/*.toml) and grow.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.adapters.draft_guard import guarded_rewrite
from core.adapters.llm import LlmClient
from core.recovery.drafting import render
from tests.support.openai_stub import OpenAIStub, running_openai_stub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FACTS: dict[str, Any] = {
    "customer_name": "Ana",
    "customer_id": "cus_1",
    "account_name": "Ana",
    "invoice_number": "in_123",
    "amount": "$49.00",
    "hosted_invoice_url": "https://invoice.stripe.com/i/in_123",
    "next_retry": "December 1, 2026",
    "attempt": 1,
    "sender_name": "The billing team",
    "bucket_label": "Insufficient funds",
    "recommended_action": "remind",
    "rule_reasons": [],
}


def corpus(name: str) -> list[dict[str, Any]]:
    return tomllib.loads((FIXTURES / name).read_text(encoding="utf-8"))["rewrite"]


HOSTILE = corpus("hostile_rewrites.toml")
BENIGN = corpus("benign_rewrites.toml")


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with running_openai_stub() as s:
        yield s


def serve(stub: OpenAIStub, case: dict[str, Any]) -> tuple[Any, Any]:
    """The case's rewrite, served by the endpoint and judged like a recovery draft."""
    draft = render(
        case.get("template", "insufficient_funds"), "email", case.get("tone", "friendly"), FACTS
    )
    assert case["part"] in draft.free_parts, f"{case['id']}: the template has no {case['part']}"
    stub.replies.append({"parts": {**draft.free_parts, case["part"]: case["text"]}})
    outcome = guarded_rewrite(
        LlmClient("sk-test-stub", model="gpt-4o-mini", base_url=stub.url),
        tone=draft.tone,
        free_parts=draft.free_parts,
        locked_sentences=draft.locked_sentences,
        allowed_facts=[str(v) for v in FACTS.values() if isinstance(v, str | int)],
        data={"customer_name": FACTS["customer_name"]},
        assemble=lambda parts: draft.with_free_parts(parts).body,
    )
    return draft, outcome


def test_the_corpora_are_well_formed() -> None:
    ids = [c["id"] for c in HOSTILE + BENIGN]
    assert len(ids) == len(set(ids))
    assert len(HOSTILE) >= 40 and len(BENIGN) >= 15
    assert all(c["expect"] for c in HOSTILE)


@pytest.mark.parametrize("case", HOSTILE, ids=[c["id"] for c in HOSTILE])
def test_hostile_rewrite_falls_back_to_the_template_with_its_reason(
    stub: OpenAIStub, case: dict[str, Any]
) -> None:
    _draft, outcome = serve(stub, case)
    assert outcome.parts is None, f"got through: {case['text']!r}"
    assert outcome.verdict.startswith("template (rewrite rejected: ")
    missing = [e for e in case["expect"] if e not in outcome.verdict]
    assert missing == [], outcome.verdict
    # the reason quotes the rewrite defanged: nothing in it a page could turn into a link
    assert not re.search(r"://|\w\.[a-z]{2,}\b|\w@\w|\]\(", outcome.verdict), outcome.verdict


@pytest.mark.parametrize("case", BENIGN, ids=[c["id"] for c in BENIGN])
def test_benign_rewrite_is_used(stub: OpenAIStub, case: dict[str, Any]) -> None:
    draft, outcome = serve(stub, case)
    assert outcome.verdict == "ai rewrite passed the guard"
    assert outcome.parts is not None and outcome.parts[case["part"]] == case["text"]
    body = draft.with_free_parts(outcome.parts).body
    assert all(sentence in body for sentence in draft.locked_sentences)
