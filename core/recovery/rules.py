"""Recovery policy rules: the `[recovery]` section of the policy file applied to one case (pure).

Each escalation rule has an id and a condition from a fixed vocabulary; every hit is returned
with the rule id and the policy version so the reason for an escalation can be shown and
audited. Missing context never raises: a rule whose data is missing simply does not fire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.money import format_money
from core.recovery.classification import BUCKET_LABELS, NEXT_STEPS, Bucket

CONDITIONS = (
    "high_value",
    "high_customer_value",
    "pending_cancellation",
    "open_dispute",
    "refund_or_access_request",
    "open_complaint",
    "renewal_within_days",
    "repeated_failures",
    "enterprise_handling",
    "bucket",
    "segment",
)

# Urgency per bucket: how soon a person should look (retries cannot fix the high ones).
URGENCY: dict[Bucket, float] = {
    Bucket.temporary: 0.5,
    Bucket.insufficient_funds: 1.0,
    Bucket.card_data: 1.5,
    Bucket.authentication_required: 1.5,
    Bucket.missing_payment_method: 1.5,
    Bucket.issuer_refused: 1.5,
    Bucket.payments_stopped: 2.0,
    Bucket.fraud_related: 2.0,
    Bucket.needs_review: 1.8,
}


@dataclass(frozen=True)
class RecoverySettings:
    """The `[recovery]` section, with defaults for anything not set."""

    grace_period_hours: float = 24.0
    quiet_period_hours: float = 72.0
    renewal_within_days: int = 30
    renewal_min_months: int = 12  # only plans billed this rarely make a renewal worth a person
    ticket_lookback_days: int = 30
    repeated_failures: int = 3
    predunning_months_ahead: int = 1
    sender_name: str = "The billing team"
    default_tone: str = "friendly"
    segments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rules: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> RecoverySettings:
        """Read the policy section (unknown keys are ignored; wrong rule conditions raise)."""
        rules = tuple(section.get("escalation_rules", ()))
        for rule in rules:
            if rule.get("when") not in CONDITIONS or not rule.get("id"):
                raise ValueError(
                    f"[recovery] escalation rule {rule!r} needs an id and a `when` among "
                    + ", ".join(CONDITIONS)
                )
        known = {k: section[k] for k in cls.__dataclass_fields__ if k in section and k != "rules"}
        return cls(**known, rules=rules)

    def segment(self, name: str | None) -> Mapping[str, Any]:
        """Handling for a segment (tone, route), or {}."""
        return self.segments.get(name or "", {}) if name else {}


@dataclass(frozen=True)
class CaseFacts:
    """What the rules look at, as plain values."""

    bucket: Bucket
    amount_remaining: int
    currency: str
    customer_value: int | None = None  # MRR in minor units
    segment: str | None = None
    owner: str | None = None
    flags: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()  # churn signals from classification.churn_signals
    open_dispute: bool = False
    hours_since_first_failure: float = 0.0
    retries_left: bool = True


@dataclass(frozen=True)
class RuleHit:
    """One rule that fired: its id, the policy version, and why."""

    rule_id: str
    policy_version: str
    reason: str
    route: str
    action: str

    def as_dict(self) -> dict[str, str]:
        """JSON-able form for the case row."""
        return {
            "rule_id": self.rule_id,
            "policy_version": self.policy_version,
            "reason": self.reason,
            "route": self.route,
            "action": self.action,
        }


@dataclass(frozen=True)
class Decision:
    """The policy's verdict on a case."""

    hits: tuple[RuleHit, ...]
    escalated: bool
    route: str  # "account_owner" | "finance"
    recommended_action: str
    tone: str
    in_grace_period: bool
    priority: float


def _fires(rule: Mapping[str, Any], f: CaseFacts, cfg: RecoverySettings) -> str | None:
    when = rule["when"]
    if when == "high_value":
        limit = int(rule.get("above", 100_000))
        above = format_money(limit, f.currency)
        return f"the amount due is above {above}" if f.amount_remaining > limit else None
    if when == "high_customer_value":
        limit = int(rule.get("above", 200_000))
        value = f.customer_value or 0
        above = format_money(limit, f.currency)
        return f"the customer's MRR is above {above}" if value > limit else None
    if when == "pending_cancellation":
        return "cancellation pending" if "pending_cancellation" in f.signals else None
    if when == "open_dispute":
        return "the customer has an open dispute" if f.open_dispute else None
    if when == "refund_or_access_request":
        hit = "refund_or_complaint_ticket" in f.signals
        return "open refund, complaint or access-exception ticket" if hit else None
    if when == "open_complaint":
        hit = "open_complaint" in f.signals
        return "open help-desk ticket tagged complaint or high priority" if hit else None
    if when == "renewal_within_days":
        return (
            f"annual plan renewing within {cfg.renewal_within_days} days"
            if "renewal_close" in f.signals
            else None
        )
    if when == "repeated_failures":
        return "repeated payment failures" if "repeated_failures" in f.signals else None
    if when == "enterprise_handling":
        return "CRM flag: enterprise handling" if "enterprise_handling" in f.flags else None
    if when == "bucket":
        label = BUCKET_LABELS.get(f.bucket, str(f.bucket))
        return f"failure type: {label}" if str(f.bucket) in rule.get("in", ()) else None
    if when == "segment":
        return f"segment {f.segment}" if f.segment and f.segment in rule.get("in", ()) else None
    return None


def priority(f: CaseFacts, high_risk: bool) -> float:
    """amount × customer value × urgency, on a log scale so one whale does not hide everything."""
    amount = math.log10(1 + max(f.amount_remaining, 0) / 100)
    value = 1 + math.log10(1 + max(f.customer_value or 0, 0) / 100)
    urgency = (
        URGENCY.get(f.bucket, 1.0) * (1.5 if high_risk else 1.0) * (1.0 if f.retries_left else 1.3)
    )
    return round(amount * value * urgency * 100, 3)


def evaluate(f: CaseFacts, cfg: RecoverySettings, policy_version: str) -> Decision:
    """Apply the rules to one case: hits, escalation, route, next action, tone, priority."""
    hits: list[RuleHit] = []
    for rule in cfg.rules:
        reason = _fires(rule, f, cfg)
        if reason:
            hits.append(
                RuleHit(
                    rule_id=str(rule["id"]),
                    policy_version=policy_version,
                    reason=str(rule.get("reason") or reason),
                    route=str(rule.get("route", "finance")),
                    action=str(rule.get("action", "review_case")),
                )
            )
    seg = cfg.segment(f.segment)
    escalated = bool(hits) or bool(seg.get("escalate", False))
    route = hits[0].route if hits else str(seg.get("route", "finance"))
    if route == "account_owner" and not f.owner:
        route = "finance"  # no owner in the CRM: finance picks it up
    action = hits[0].action if hits else NEXT_STEPS[f.bucket].action
    in_grace = (
        f.bucket in (Bucket.temporary, Bucket.insufficient_funds)
        and f.retries_left
        and f.hours_since_first_failure < cfg.grace_period_hours
    )
    high_risk = bool(f.signals)
    return Decision(
        hits=tuple(hits),
        escalated=escalated,
        route=route,
        recommended_action=action,
        tone=str(seg.get("tone", cfg.default_tone)),
        in_grace_period=in_grace,
        priority=priority(f, high_risk),
    )
