"""The `[disputes]` section of the policy file, validated into one frozen config (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.disputes.deadlines import (
    DEFAULT_BANDS,
    DEFAULT_THRESHOLDS,
    ReminderThreshold,
    Urgency,
    parse_duration,
    thresholds_from,
)
from core.disputes.priority import DEFAULT_COUNTER_FEE, DEFAULT_HANDLING_COST
from core.errors import ConfigError
from core.governance.policy import load_policy


@dataclass(frozen=True)
class DisputeConfig:
    """Thresholds, fees and texts the dispute desk works with."""

    alert_threshold: int = 50_000
    counter_fee: int = DEFAULT_COUNTER_FEE
    handling_cost: int = DEFAULT_HANDLING_COST
    thresholds: tuple[ReminderThreshold, ...] = DEFAULT_THRESHOLDS
    bands: tuple[tuple[int, Urgency], ...] = DEFAULT_BANDS
    default_owner: str | None = None
    escalation_email: str | None = None
    refund_policy_text: str = ""
    cancellation_policy_text: str = ""
    policy_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _minor(name: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"Policy [disputes] {name} must be whole minor units (cents), e.g. 1500.")
    return value


def parse_dispute_config(
    section: Mapping[str, Any], policy_version: str | None = None
) -> DisputeConfig:
    """Validate a `[disputes]` section; missing keys take the defaults."""
    try:
        thresholds = (
            thresholds_from(section["reminders"]) if "reminders" in section else DEFAULT_THRESHOLDS
        )
        raw_bands = section.get("urgency_bands")
        bands = (
            tuple((parse_duration(str(v)), Urgency(k)) for k, v in raw_bands.items())
            if isinstance(raw_bands, Mapping)
            else DEFAULT_BANDS
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f'Policy [disputes]: {exc}. Use durations like "7d" or "24h" and bands named '
            "critical / urgent / soon."
        ) from None
    return DisputeConfig(
        alert_threshold=_minor("alert_threshold", section.get("alert_threshold"), 50_000),
        counter_fee=_minor("counter_fee", section.get("counter_fee"), DEFAULT_COUNTER_FEE),
        handling_cost=_minor("handling_cost", section.get("handling_cost"), DEFAULT_HANDLING_COST),
        thresholds=thresholds,
        bands=bands,
        default_owner=(str(section.get("default_owner") or "").strip() or None),
        escalation_email=(str(section.get("escalation_email") or "").strip() or None),
        refund_policy_text=str(section.get("refund_policy_text") or "").strip(),
        cancellation_policy_text=str(section.get("cancellation_policy_text") or "").strip(),
        policy_version=policy_version,
        extra=dict(section),
    )


def load_dispute_config(policy_file: Any = None) -> DisputeConfig:
    """The dispute config from the policy file (core/governance/policy.toml unless given)."""
    policy = load_policy(policy_file)
    return parse_dispute_config(policy.section("disputes"), policy.version)
