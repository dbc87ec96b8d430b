"""A policy file cannot switch the human off: money moves and customer messages always need an
approver, roles are never empty, expiries are positive numbers, and an action type without its
own section is not allowed. One message names the line to fix."""

from __future__ import annotations

import pytest

from core.config import DEFAULT_POLICY_FILE
from core.errors import ConfigError
from core.governance.policy import parse_policy
from core.governance.states import INTERNAL_TYPES, ActionType

SHIPPED = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")


def _with(section: str, line: str) -> str:
    header = f"[actions.{section}]\n"
    assert header in SHIPPED
    return SHIPPED.replace(header, header + line + "\n", 1)


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.strip() == needle)


@pytest.mark.parametrize("action", sorted(str(t) for t in ActionType if t not in INTERNAL_TYPES))
def test_approval_cannot_be_switched_off_for_money_or_customers(action: str) -> None:
    text = _with(action, "approval = false")
    with pytest.raises(ConfigError) as err:
        parse_policy(text, "policy.toml")
    line = _line_of(text, "approval = false")
    assert f"policy.toml, line {line}: [actions.{action}] approval" in str(err.value)
    assert "cannot be false" in str(err.value)


@pytest.mark.parametrize("action", sorted(str(t) for t in INTERNAL_TYPES))
def test_internal_bookkeeping_may_skip_approval(action: str) -> None:
    assert parse_policy(SHIPPED).for_action(action).required_approvals(None, None) == 0


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("roles = []", "non-empty list"),
        ('roles = ["viewer", "admin"]', "viewer only reads"),
        ('request_roles = "operator"', "non-empty list"),
        ("expires_after_hours = -1", "positive number"),
        ("expires_after_hours = 0", "positive number"),
        ('expires_after_hours = "soon"', "positive number"),
        ("expires_after_hours = nan", "positive number"),
        ("expires_after_hours = inf", "positive number"),
        ('approval = "no"', "true or false"),
        ("two_approvers_abov = 100", "not a policy setting"),
        ("two_approvers_above = -5", "cents"),
    ],
)
def test_bad_settings_name_their_line(line: str, says: str) -> None:
    text = _with("pause_access", line)
    with pytest.raises(ConfigError) as err:
        parse_policy(text, "policy.toml")
    assert f"line {_line_of(text, line)}:" in str(err.value)
    assert says in str(err.value)


def test_a_removed_section_no_longer_allows_the_action() -> None:
    header = "[actions.cancel_subscription]\n"
    policy = parse_policy(SHIPPED.replace(header, ""))
    assert not policy.allows("cancel_subscription") and policy.allows("refund")
    with pytest.raises(ConfigError, match="does not allow 'cancel_subscription'"):
        policy.for_action("cancel_subscription")
