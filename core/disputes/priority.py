"""Dispute priority and the fight-or-accept recommendation, each with its explanation (pure).

Expected value of fighting = win chance × disputed amount − counter fee − handling cost.
The counter fee is what Stripe charges for countering a dispute (15.00 in USD since June 2025,
refunded when the dispute is won); the formula treats it as spent, which keeps the
recommendation conservative. The win chance starts from a base rate per reason, rises with each
kind of proof that matters for that reason, and is blended with the account's own win history
for the reason once there is one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.disputes.labels import reason_label
from core.money import format_money

DEFAULT_COUNTER_FEE = 1500  # minor units; Stripe's dispute counter fee in USD
DEFAULT_HANDLING_COST = 2500  # minor units; staff time to assemble and review a packet
HISTORY_WEIGHT = 6  # pseudo-disputes the evidence estimate counts for against real history
MAX_WIN_CHANCE = 0.9

BASE_WIN_RATE: dict[str, float] = {
    "fraudulent": 0.18,
    "unrecognized": 0.25,
    "product_not_received": 0.25,
    "duplicate": 0.35,
    "subscription_canceled": 0.25,
    "credit_not_processed": 0.3,
    "product_unacceptable": 0.2,
    "general": 0.25,
}
DEFAULT_BASE_WIN_RATE = 0.15

# How much each kind of proof adds to the win chance, per reason.
EVIDENCE_UPLIFT: dict[str, dict[str, float]] = {
    "fraudulent": {
        "usage_proof": 0.2,
        "prior_payments": 0.15,
        "customer_details": 0.1,
        "communication": 0.05,
    },
    "unrecognized": {
        "usage_proof": 0.2,
        "prior_payments": 0.15,
        "customer_details": 0.1,
        "communication": 0.05,
    },
    "product_not_received": {"delivery_proof": 0.35, "usage_proof": 0.25, "communication": 0.05},
    "duplicate": {"duplicate_info": 0.35, "communication": 0.05},
    "subscription_canceled": {
        "policy_acceptance": 0.25,
        "usage_proof": 0.15,
        "communication": 0.05,
    },
    "credit_not_processed": {"policy_acceptance": 0.25, "communication": 0.1},
    "product_unacceptable": {"communication": 0.2, "policy_acceptance": 0.1, "usage_proof": 0.1},
}
GENERAL_UPLIFT = {
    "communication": 0.1,
    "usage_proof": 0.1,
    "prior_payments": 0.05,
    "policy_acceptance": 0.05,
}

KIND_LABELS = {
    "delivery_proof": "proof of delivery",
    "usage_proof": "usage / access log",
    "prior_payments": "prior undisputed payments",
    "policy_acceptance": "policy the customer accepted",
    "communication": "customer communication",
    "customer_details": "customer identity details",
    "duplicate_info": "the original charge",
}


@dataclass(frozen=True)
class WinChance:
    """An estimated probability of winning, with the steps that produced it."""

    value: float
    explanation: tuple[str, ...]


def win_chance(reason: str, kinds: frozenset[str], *, won: int = 0, lost: int = 0) -> WinChance:
    """Estimate the chance of winning from the proof available and the account's history."""
    base = BASE_WIN_RATE.get(reason, DEFAULT_BASE_WIN_RATE)
    lines = [f"Disputes for “{reason_label(reason).lower()}” are won {base:.0%} of the time."]
    p = base
    for kind, uplift in EVIDENCE_UPLIFT.get(reason, GENERAL_UPLIFT).items():
        if kind in kinds:
            p += uplift
            lines.append(f"{KIND_LABELS.get(kind, kind).capitalize()} adds {uplift:.0%}.")
    p = min(p, MAX_WIN_CHANCE)
    if won + lost > 0:
        blended = (p * HISTORY_WEIGHT + won) / (HISTORY_WEIGHT + won + lost)
        lines.append(
            f"Blended with this account's history for this reason ({won} won, {lost} lost): "
            f"{blended:.0%}."
        )
        p = blended
    return WinChance(round(p, 4), tuple(lines))


@dataclass(frozen=True)
class Recommendation:
    """Fight or accept, with the expected value of fighting in minor units."""

    action: str  # "fight" | "accept"
    expected_value: int
    win_chance: float
    explanation: tuple[str, ...]


def fight_or_accept(
    amount: int,
    chance: WinChance,
    *,
    counter_fee: int = DEFAULT_COUNTER_FEE,
    handling_cost: int = DEFAULT_HANDLING_COST,
    currency: str = "usd",
) -> Recommendation:
    """Recommend accepting when fighting is worth less than nothing."""
    ev = round(chance.value * amount) - counter_fee - handling_cost
    action = "fight" if ev >= 0 else "accept"

    def money(value: int) -> str:
        return format_money(value, currency)

    lines = (
        *chance.explanation,
        f"Fighting is worth {money(ev)}: {chance.value:.0%} × {money(amount)} = "
        f"{money(round(chance.value * amount))}, less the {money(counter_fee)} dispute fee and "
        f"{money(handling_cost)} handling cost.",
        "Fighting is worth it."
        if ev >= 0
        else "Fighting is worth less than nothing: accept the dispute.",
    )
    return Recommendation(action, ev, chance.value, lines)


@dataclass(frozen=True)
class PriorityInputs:
    """What the priority score looks at."""

    amount: int
    reason: str
    hours_left: float | None  # None: no response possible
    customer_value: int = 0  # minor units paid by the customer so far
    win_chance: float = 0.0
    answered: bool = False
    currency: str = "usd"


@dataclass(frozen=True)
class Priority:
    """A 0–100 score; the explanation lists each component's points."""

    score: int
    explanation: tuple[str, ...] = field(default_factory=tuple)


def priority(inputs: PriorityInputs) -> Priority:
    """Score a dispute: amount, deadline, customer value and evidence strength."""
    if inputs.answered or inputs.hours_left is None:
        why = (
            "Evidence is submitted or the case is closed."
            if inputs.answered
            else "No response is possible."
        )
        return Priority(0, (why,))
    # Amount: logarithmic so a 10x larger dispute is not 10x more urgent; 10,000.00 → full 35.
    amount_pts = min(35.0, 35 * math.log10(max(inputs.amount, 100) / 100) / 4)
    hours = max(inputs.hours_left, 0.0)
    deadline_pts = 30.0 if hours <= 24 else max(0.0, 30 * (1 - (hours - 24) / (21 * 24 - 24)))
    value_pts = min(15.0, 15 * math.log10(max(inputs.customer_value, 100) / 100) / 4)
    evidence_pts = 20 * inputs.win_chance
    score = round(amount_pts + deadline_pts + value_pts + evidence_pts)
    cur = inputs.currency
    lines = (
        f"Amount {format_money(inputs.amount, cur)}: {amount_pts:.0f} of 35 points.",
        f"Deadline in {_hours_text(hours)}: {deadline_pts:.0f} of 30 points.",
        f"Customer has paid {format_money(inputs.customer_value, cur)}: "
        f"{value_pts:.0f} of 15 points.",
        f"Evidence strength ({inputs.win_chance:.0%} win chance): {evidence_pts:.0f} of 20 points.",
    )
    return Priority(min(100, score), lines)


def _hours_text(hours: float) -> str:
    """48 → '2 days', 5 → '5 hours'."""
    if hours >= 48:
        return f"{hours / 24:.0f} days"
    return "1 hour" if round(hours) == 1 else f"{hours:.0f} hours"
