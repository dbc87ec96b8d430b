"""Recovery policy rules: hits carry rule id + policy version; routing, grace, priority."""

from __future__ import annotations

import pytest

from core.governance.policy import load_policy
from core.recovery.classification import Bucket
from core.recovery.rules import CaseFacts, RecoverySettings, evaluate, priority


@pytest.fixture(scope="module")
def cfg_version() -> tuple[RecoverySettings, str]:
    policy = load_policy()
    return RecoverySettings.from_section(policy.section("recovery")), policy.version


def facts(**kw: object) -> CaseFacts:
    base: dict[str, object] = {
        "bucket": Bucket.card_data,
        "amount_remaining": 4900,
        "currency": "usd",
    }
    base.update(kw)
    return CaseFacts(**base)  # type: ignore[arg-type]


def test_policy_file_has_a_recovery_section(cfg_version: tuple[RecoverySettings, str]) -> None:
    cfg, version = cfg_version
    assert cfg.quiet_period_hours > 0 and cfg.grace_period_hours > 0 and cfg.rules
    assert "+" in version  # file version plus content hash


def test_plain_case_is_not_escalated(cfg_version: tuple[RecoverySettings, str]) -> None:
    cfg, version = cfg_version
    d = evaluate(facts(), cfg, version)
    assert (d.hits, d.escalated, d.route, d.recommended_action) == (
        (),
        False,
        "finance",
        "ask_for_card_update",
    )


@pytest.mark.parametrize(
    ("kw", "rule_id"),
    [
        ({"amount_remaining": 300_000}, "REC-HIGH-VALUE"),
        ({"customer_value": 900_000, "owner": "ana"}, "REC-KEY-ACCOUNT"),
        ({"signals": ("pending_cancellation",), "owner": "ana"}, "REC-CANCEL"),
        ({"open_dispute": True}, "REC-DISPUTE"),
        ({"signals": ("refund_or_complaint_ticket",), "owner": "ana"}, "REC-REFUND-REQ"),
        ({"signals": ("open_complaint",), "owner": "ana"}, "REC-COMPLAINT"),
        ({"signals": ("renewal_close",), "owner": "ana"}, "REC-RENEWAL"),
        ({"flags": ("enterprise_handling",), "owner": "ana"}, "REC-ENTERPRISE"),
        ({"bucket": Bucket.fraud_related}, "REC-FRAUD"),
    ],
)
def test_escalation_rules_fire_with_id_and_version(
    cfg_version: tuple[RecoverySettings, str], kw: dict[str, object], rule_id: str
) -> None:
    cfg, version = cfg_version
    d = evaluate(facts(**kw), cfg, version)
    assert d.escalated and rule_id in [h.rule_id for h in d.hits]
    assert all(h.policy_version == version for h in d.hits)


def test_account_owner_route_falls_back_to_finance_without_an_owner(
    cfg_version: tuple[RecoverySettings, str],
) -> None:
    cfg, version = cfg_version
    with_owner = evaluate(facts(signals=("pending_cancellation",), owner="ana"), cfg, version)
    without = evaluate(facts(signals=("pending_cancellation",)), cfg, version)
    assert (with_owner.route, without.route) == ("account_owner", "finance")


def test_segment_tone_and_grace_period(cfg_version: tuple[RecoverySettings, str]) -> None:
    cfg, version = cfg_version
    assert evaluate(facts(segment="enterprise", owner="ana"), cfg, version).tone == "formal"
    assert evaluate(facts(segment="smb"), cfg, version).tone == "friendly"
    early = evaluate(facts(bucket=Bucket.temporary, hours_since_first_failure=2), cfg, version)
    late = evaluate(facts(bucket=Bucket.temporary, hours_since_first_failure=48), cfg, version)
    assert early.in_grace_period and not late.in_grace_period


def test_priority_grows_with_amount_value_and_urgency() -> None:
    small = priority(facts(amount_remaining=900), False)
    big = priority(facts(amount_remaining=250_000), False)
    valued = priority(facts(amount_remaining=900, customer_value=900_000), False)
    risky = priority(facts(amount_remaining=900), True)
    assert small < big and small < valued and small < risky


def test_bad_rule_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs an id"):
        RecoverySettings.from_section({"escalation_rules": [{"id": "X", "when": "moon_phase"}]})


def test_rule_reasons_are_sentences_with_formatted_amounts(
    cfg_version: tuple[RecoverySettings, str],
) -> None:
    cfg, version = cfg_version
    high = evaluate(facts(amount_remaining=250_000), cfg, version)
    assert "the amount due is above $2,000.00" in [h.reason for h in high.hits]
    key = evaluate(facts(customer_value=900_000, owner="ana", currency="eur"), cfg, version)
    assert "the customer's MRR is above €5,000.00" in [h.reason for h in key.hits]
    fraud = evaluate(facts(bucket=Bucket.fraud_related), cfg, version)
    assert "failure type: Fraud-related" in [h.reason for h in fraud.hits]
    assert not any("00000" in h.reason for d in (high, key, fraud) for h in d.hits)


def test_value_rules_state_the_threshold_in_money(
    cfg_version: tuple[RecoverySettings, str],
) -> None:
    cfg, version = cfg_version
    d = evaluate(facts(amount_remaining=300_000, customer_value=900_000), cfg, version)
    reasons = {h.rule_id: h.reason for h in d.hits}
    assert reasons["REC-HIGH-VALUE"] == "the amount due is above $2,000.00"
    assert not evaluate(facts(amount_remaining=149_800), cfg, version).escalated  # mid-market
    assert reasons["REC-KEY-ACCOUNT"] == "the customer's MRR is above $5,000.00"


def test_renewal_rule_speaks_of_annual_plans(cfg_version: tuple[RecoverySettings, str]) -> None:
    cfg, version = cfg_version
    assert cfg.renewal_min_months == 12
    d = evaluate(facts(signals=("renewal_close",), owner="ana"), cfg, version)
    assert [h.reason for h in d.hits] == ["annual plan renewing within 30 days"]
