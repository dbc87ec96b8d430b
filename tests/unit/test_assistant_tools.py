"""The assistant's tool definitions: strict schemas, clear refusals, amounts by the currency's
exponent, days in the team's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from core.governance.auth import Actor
from core.reports.assistant.queries import find_disputes
from core.reports.assistant.spec import Context, ToolRefused, money, period_start, since_day
from core.reports.assistant.tools import TOOLS
from tests.conftest import settings_for

VIEWER = Actor(1, "vi", "viewer")
OPERATOR = Actor(2, "op", "operator")


def ctx(tmp_path: Path, now: datetime, tz: str = "UTC") -> Context:
    settings = settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, TEAM_TIMEZONE=tz)
    return Context(None, settings, OPERATOR, "ref", now)  # type: ignore[arg-type]


def test_every_schema_is_valid_strict_and_read_only_but_one() -> None:
    for tool in TOOLS.values():
        Draft202012Validator.check_schema(tool.parameters)
        assert tool.parameters["additionalProperties"] is False
    assert [t.name for t in TOOLS.values() if t.proposes] == ["propose_action"]
    assert not any(word in name for name in TOOLS for word in ("sql", "send", "stripe", "mail"))
    assert {t.name for t in TOOLS.values() if t.allowed(VIEWER)} == set(TOOLS) - {"propose_action"}


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        ("find_disputes", {"min_amount": "lots"}, "Invalid min_amount for find_disputes"),
        ("find_disputes", {"limit": 5000}, "Invalid limit for find_disputes"),
        ("find_failed_payments", {"period": "forever"}, "Invalid period"),
        ("get_record", {"kind": "user", "id": "1"}, "Invalid kind"),
        ("get_record", {"kind": "dispute"}, "'id' is a required property"),
        (
            "propose_action",
            {"action_type": "refund", "target_id": "ch_1", "reason": "x y", "amount": 5},
            "Additional properties are not allowed",
        ),  # fmt: skip
        (
            "propose_action",
            {"action_type": "send_message", "target_id": "cus_1", "reason": "hello"},
            "Invalid action_type",
        ),  # fmt: skip
        (
            "propose_action",
            {"action_type": "refund", "target_id": "DROP TABLE", "reason": "hello"},
            "Invalid target_id",
        ),  # fmt: skip
    ],
)
def test_bad_arguments_are_refused_with_what_to_fix(tool: str, args: dict, message: str) -> None:
    with pytest.raises(ToolRefused, match=message):
        TOOLS[tool].validate(args)


def test_a_minimum_with_decimals_in_yen_is_refused(tmp_path: Path) -> None:
    c = ctx(tmp_path, datetime(2026, 12, 3, tzinfo=UTC))
    with pytest.raises(ToolRefused, match="JPY amounts have 0 decimal places"):
        find_disputes(c, {"min_amount": 500.5, "currency": "jpy"})


def test_amounts_use_the_currency_exponent() -> None:
    assert money(75_000, "usd") == {"amount": 750.0, "currency": "usd"}
    assert money(80_000, "jpy") == {"amount": 80_000, "currency": "jpy"}
    assert money(1_234, "KRW") == {"amount": 1_234, "currency": "krw"}
    assert money(None, "usd") is None


def test_days_are_the_teams(tmp_path: Path) -> None:
    # Monday 30 November 2026, 23:30 UTC is already Tuesday in Berlin
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    berlin = ctx(tmp_path, late, "Europe/Berlin")
    assert since_day(berlin, "monday") == date(2026, 11, 30)
    assert since_day(berlin, "Tuesday") == date(2026, 12, 1)
    assert since_day(ctx(tmp_path, late), "tuesday") == date(2026, 11, 24)
    assert since_day(berlin, "2026-11-02") == date(2026, 11, 2)
    with pytest.raises(ToolRefused, match="neither a weekday name nor a date"):
        since_day(berlin, "last quarter")
    month = period_start(berlin, "this_month")
    assert month == int(datetime(2026, 11, 30, 23, 0, tzinfo=UTC).timestamp())  # 1 Dec, Berlin
    assert period_start(berlin, "all") is None
