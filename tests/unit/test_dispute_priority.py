"""Fight-or-accept on hand-worked examples, win chance, priority and the evidence checklist."""

from __future__ import annotations

from core.disputes.evidence.checklist import (
    TEXT_LIMIT,
    checklist_for,
    evaluate,
    evidence_kinds,
    fit_to_limits,
    text_length,
)
from core.disputes.priority import PriorityInputs, fight_or_accept, priority, win_chance


def test_fraud_with_usage_and_prior_payments_is_worth_fighting() -> None:
    # 18 % base + 20 % usage log + 15 % prior payments = 53 %
    chance = win_chance("fraudulent", frozenset({"usage_proof", "prior_payments"}))
    assert chance.value == 0.53
    rec = fight_or_accept(20_000, chance, counter_fee=1_500, handling_cost=2_500)
    # 0.53 × 200.00 = 106.00 − 15.00 − 25.00 = 66.00
    assert rec.expected_value == 6_600
    assert rec.action == "fight"


def test_small_fraud_without_evidence_is_accepted() -> None:
    chance = win_chance("fraudulent", frozenset())
    rec = fight_or_accept(2_000, chance, counter_fee=1_500, handling_cost=2_500)
    # 0.18 × 20.00 = 3.60 − 40.00 = −36.40
    assert rec.expected_value == -3_640
    assert rec.action == "accept"
    assert "accept" in rec.explanation[-1]


def test_explanations_are_sentences_with_formatted_money() -> None:
    chance = win_chance("fraudulent", frozenset({"usage_proof", "prior_payments"}))
    rec = fight_or_accept(10_618, chance, counter_fee=1_500, handling_cost=2_500)
    assert rec.explanation[0] == "Disputes for “fraudulent” are won 18% of the time."
    assert "Usage / access log adds 20%." in rec.explanation
    assert rec.explanation[-2] == (
        "Fighting is worth $16.28: 53% × $106.18 = $56.28, less the $15.00 dispute fee and "
        "$25.00 handling cost."
    )
    eur = fight_or_accept(10_618, chance, counter_fee=1_500, handling_cost=0, currency="eur")
    assert "€106.18" in eur.explanation[-2] and "€15.00 dispute fee" in eur.explanation[-2]
    yen = fight_or_accept(10_618, chance, counter_fee=1_500, handling_cost=0, currency="jpy")
    assert "¥10,618" in yen.explanation[-2]
    prio = priority(PriorityInputs(175_100, "general", 50, customer_value=40_000, win_chance=0.5))
    assert prio.explanation[0].startswith("Amount $1,751.00: ")
    assert prio.explanation[1].startswith("Deadline in 2 days: ")
    assert prio.explanation[2].startswith("Customer has paid $400.00: ")
    for line in (*rec.explanation, *prio.explanation):
        assert "10618" not in line and "1500" not in line and "175100" not in line


def test_history_pulls_the_estimate_towards_the_accounts_record() -> None:
    chance = win_chance("product_not_received", frozenset({"delivery_proof"}), won=2, lost=8)
    # evidence says 60 %; (0.6 × 6 + 2) / (6 + 10) = 35 %
    assert chance.value == 0.35
    rec = fight_or_accept(10_000, chance, counter_fee=1_500, handling_cost=2_500)
    assert rec.expected_value == -500 and rec.action == "accept"
    assert any("history" in line for line in chance.explanation)


def test_break_even_fights_and_zero_costs() -> None:
    chance = win_chance("duplicate", frozenset({"duplicate_info"}))  # 70 %
    assert (
        fight_or_accept(10_000, chance, counter_fee=4_000, handling_cost=3_000).expected_value == 0
    )
    assert fight_or_accept(10_000, chance, counter_fee=4_000, handling_cost=3_000).action == "fight"
    assert (
        fight_or_accept(
            100, win_chance("general", frozenset()), counter_fee=0, handling_cost=0
        ).action
        == "fight"
    )


def test_win_chance_is_capped() -> None:
    kinds = frozenset({"delivery_proof", "usage_proof", "communication"})
    assert win_chance("product_not_received", kinds).value == 0.9


def test_priority_orders_by_amount_deadline_and_evidence() -> None:
    big_soon = priority(
        PriorityInputs(amount=500_000, reason="fraudulent", hours_left=10, win_chance=0.5)
    )
    small_late = priority(
        PriorityInputs(amount=1_000, reason="fraudulent", hours_left=400, win_chance=0.2)
    )
    assert big_soon.score > small_late.score
    assert len(big_soon.explanation) == 4
    assert priority(PriorityInputs(1_000, "general", 5, answered=True)).score == 0
    assert priority(PriorityInputs(1_000, "general", None)).explanation == (
        "No response is possible.",
    )


def test_checklists_per_reason() -> None:
    keys = {i.key for i in checklist_for("fraudulent")}
    assert {
        "customer_purchase_ip",
        "billing_address",
        "access_activity_log",
        "prior_payments",
    } <= keys
    assert {i.key for i in checklist_for("duplicate")} >= {
        "duplicate_charge_id",
        "duplicate_charge_explanation",
    }
    assert "cancellation_rebuttal" in {i.key for i in checklist_for("subscription_canceled")}
    assert "refund_refusal_explanation" in {i.key for i in checklist_for("credit_not_processed")}
    assert "uncategorized_text" in {i.key for i in checklist_for("bank_cannot_process")}
    result = evaluate("product_not_received", {"customer_name": "A", "access_activity_log": "log"})
    missing = {i.key for i in result.missing_required}
    assert missing == {"customer_email_address", "product_description"}
    assert 0 < result.completeness < 1


def test_evidence_kinds_and_budget() -> None:
    ev = {
        "customer_email_address": "a@x.io",
        "billing_address": "1 Main St",
        "access_activity_log": "x" * 200_000,
        "uncategorized_text": "summary",
    }
    kinds = evidence_kinds(ev, prior_payments=3, tickets=0)
    assert kinds == {"usage_proof", "prior_payments", "customer_details"}
    fitted, cuts = fit_to_limits(ev)
    assert [c.field for c in cuts] == ["access_activity_log"]
    assert text_length(fitted) <= TEXT_LIMIT
    assert (
        fitted["customer_email_address"] == "a@x.io" and fitted["uncategorized_text"] == "summary"
    )
