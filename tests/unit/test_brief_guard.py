"""The brief guard and the template brief on plain facts (no database, no model)."""

from __future__ import annotations

from typing import Any

import pytest

from core.reports.briefs.compose import compose
from core.reports.briefs.facts import fact_strings, inputs_hash
from core.reports.briefs.guard import check_brief

FACTS: dict[str, Any] = {
    "kind": "failed payment",
    "case": "#4",
    "customer": "Nordlicht GmbH",
    "customer_id": "cus_N1",
    "invoice": "INV-0042",
    "invoice_id": "in_42",
    "status": "open",
    "amount_due": "€1,250.00",
    "attempts": 2,
    "first_failed": "2026-11-30",
    "next_retry": None,
    "decline_code": "insufficient_funds",
    "why": "The customer's account did not have enough money.",
    "churn_signals": [],
    "account": {
        "name": "Nordlicht GmbH",
        "owner": "Jonas Weber",
        "segment": "mid market",
        "mrr": "€900.00",
        "arr": None,
        "renewal": "2027-01-15",
        "flags": [],
    },
    "tickets": None,
    "history": {"earlier_failed_invoices": 1, "disputes": 0, "open_disputes": 0},
    "rules": [{"id": "REC-REPEAT", "reason": "a second failure within 90 days"}],
    "policy_version": "2026.11.1",
    "recommended": "Ask for card update",
    "route": "finance",
    "escalated": True,
    "missing": ["no help-desk tickets found"],
}
GOOD = (
    "Nordlicht GmbH (cus_N1) has not paid invoice INV-0042 for €1,250.00 after 2 attempts since "
    "2026-11-30 (insufficient_funds). The mid market account is owned by Jonas Weber, MRR "
    "€900.00, renewal 2027-01-15. REC-REPEAT recommends to ask for card update. No help-desk "
    "tickets were found."
)


def _check(text: str) -> list[str]:
    return check_brief(text, list(fact_strings(FACTS)), compose("recovery_case", FACTS))


def test_the_template_brief_covers_what_happened_the_account_the_rules_and_the_gaps() -> None:
    text = compose("recovery_case", FACTS)
    lines = text.splitlines()
    assert lines[0].startswith("“Nordlicht GmbH” (cus_N1) did not pay invoice INV-0042 (€1,250.00)")
    assert "MRR €900.00" in lines[1] and "owned by “Jonas Weber”" in lines[1]
    assert "REC-REPEAT (a second failure within 90 days)" in lines[2]
    assert lines[3] == "Uncertain or missing: no help-desk tickets found."
    assert _check(text) == []  # the template passes its own guard


def test_a_faithful_brief_passes() -> None:
    assert _check(GOOD) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (GOOD.replace("2 attempts", "3 attempts"), "adds a number"),
        (GOOD.replace("€1,250.00", "€1,520.00"), "adds a number"),
        (GOOD.replace("2026-11-30", "2026-11-29"), "adds a number"),
        (GOOD + " Petra Schulz from sales agrees.", "names something not in the facts"),
        (GOOD + " Call +49 30 1234567.", "adds a phone number"),
        (GOOD + " We will waive the fee.", "makes a promise (waiver)"),
        (GOOD + " Recovery is guaranteed.", "makes a promise (guarantee)"),
        (GOOD.replace("cus_N1", "cus_X9"), "adds an id"),
        (GOOD + " See [the invoice](https://x.example).", "adds a link"),
        ("", "no brief"),
    ],
)
def test_invented_facts_and_promises_are_rejected(text: str, reason: str) -> None:
    problems = _check(text)
    assert any(reason in p for p in problems), problems


def test_the_inputs_hash_follows_the_facts_and_the_model() -> None:
    base = inputs_hash("recovery_case", "4", FACTS, None)
    assert base == inputs_hash("recovery_case", "4", dict(FACTS), None)
    assert base != inputs_hash("recovery_case", "4", FACTS | {"attempts": 3}, None)
    assert base != inputs_hash("recovery_case", "4", FACTS, "gpt-4o-mini")
