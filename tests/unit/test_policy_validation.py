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


SEQUENCE = """
[[recovery.sequences]]
id = "DUN-SMB"
segments = ["smb"]
currency = "usd"
up_to = 20000
days = [0, 3, 7]
"""


def test_the_shipped_policy_pre_approves_nothing_and_its_example_parses() -> None:
    assert parse_policy(SHIPPED).sequences == ()
    example = "\n".join(
        line.removeprefix("# ")
        for line in SHIPPED.splitlines()
        if line.startswith("# [[recovery.sequences]]")
        or (line.startswith("# ") and "=" in line and line.split("=")[0][2:].strip()
            in ("id", "segments", "currency", "up_to", "days"))
    )  # fmt: skip
    [rule] = parse_policy(SHIPPED + "\n" + example).sequences
    assert rule.days == (0, 3, 7) and rule.covers("smb", 20000, "USD")
    assert not rule.covers("smb", 20001, "usd") and not rule.covers("enterprise", 100, "usd")
    assert not rule.covers("smb", 100, "eur")


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('id = "DUN-SMB"', 'id = ""', "needs an id"),
        ("days = [0, 3, 7]", "days = [3, 0]", "rising"),
        ("days = [0, 3, 7]", "days = [0, 90]", "from 0 to 60"),
        ("days = [0, 3, 7]", "days = []", "up to 10 days"),
        ("up_to = 20000", "up_to = -1", "minor units"),
        ('currency = "usd"', 'currency = "dollars"', "three-letter"),
        ('segments = ["smb"]', "segments = []", "non-empty list"),
        ("up_to = 20000", 'up_to = 20000\naction = "refund"', "moves money"),
        ("up_to = 20000", 'up_to = 20000\naction = "cancel_subscription"', "never be pre-approved"),
        ("up_to = 20000", "up_to = 20000\nai_rewrite = true", "not a sequence setting"),
    ],
)
def test_bad_sequences_name_their_line(old: str, new: str, says: str) -> None:
    text = SHIPPED + SEQUENCE.replace(old, new) + SEQUENCE.replace("DUN-SMB", "DUN-2")
    with pytest.raises(ConfigError) as err:
        parse_policy(text, "policy.toml")
    bad_line = new.splitlines()[-1]
    assert f"policy.toml, line {_line_of(text, bad_line)}: [[recovery.sequences]] #1" in str(
        err.value
    )
    assert says in str(err.value)


def test_a_second_sequence_with_the_same_id_names_its_own_line() -> None:
    text = SHIPPED + SEQUENCE + SEQUENCE.replace("days = [0, 3, 7]", "days = [1]")
    with pytest.raises(ConfigError, match="used twice") as err:
        parse_policy(text, "policy.toml")
    second = [n for n, line in enumerate(text.splitlines(), 1) if line == 'id = "DUN-SMB"'][1]
    assert f"line {second}: [[recovery.sequences]] #2 id" in str(err.value)


@pytest.mark.parametrize("action", sorted(str(t) for t in ActionType if t not in INTERNAL_TYPES))
def test_no_action_section_can_pre_approve(action: str) -> None:
    text = _with(action, "pre_approved = true")
    with pytest.raises(ConfigError, match="cannot be pre-approved") as err:
        parse_policy(text, "policy.toml")
    assert f"line {_line_of(text, 'pre_approved = true')}:" in str(err.value)
