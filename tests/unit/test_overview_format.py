"""Formatting helpers and the Overview's day / month boundaries in the team's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.reports.overview import day_start, month_start, trend_origin
from dashboard import format as fmt

BERLIN = ZoneInfo("Europe/Berlin")


def test_money_and_amounts() -> None:
    assert fmt.money(123450, "usd") == "$1,234.50"
    assert fmt.money(12000, "jpy") == "¥12,000"
    assert fmt.amounts({"eur": 800, "usd": 120000}) == "$1,200.00 · €8.00"
    assert fmt.amounts({}, empty="nothing") == "nothing"
    assert fmt.number(1234567) == "1,234,567" and fmt.number(None) == "—"


def test_times_are_shown_in_the_team_time_zone() -> None:
    ts = int(datetime(2026, 7, 1, 22, 30, tzinfo=UTC).timestamp())
    assert fmt.when(ts, BERLIN) == "2026-07-02 00:30"  # summer time, UTC+2
    assert fmt.when(datetime(2026, 1, 1, 12, 0, tzinfo=UTC), BERLIN) == "2026-01-01 13:00"
    assert fmt.when(None, BERLIN) == "—" and fmt.when(0, BERLIN) == "—"


def test_durations_and_countdowns() -> None:
    assert fmt.duration(42) == "42 s"
    assert fmt.duration(3 * 3600 + 5 * 60) == "3 h 5 min"
    assert fmt.duration(2 * 86400 + 4 * 3600) == "2 d 4 h"
    assert fmt.countdown(1000 + 7200, 1000) == "in 2 h 0 min"
    assert fmt.countdown(1000, 1000 + 600) == "10 min late"


def test_stripe_links_only_outside_the_sandbox() -> None:
    assert fmt.stripe_link("dp_123", "sandbox") == "`dp_123`"
    assert fmt.stripe_link("dp_123", "test") == (
        "[`dp_123`](https://dashboard.stripe.com/test/disputes/dp_123)"
    )
    assert fmt.stripe_url("in_9", "live", "acct_1") == (
        "https://dashboard.stripe.com/acct_1/invoices/in_9"
    )
    assert fmt.stripe_link(None, "live") == "—"


def test_today_and_this_month_start_at_local_midnight() -> None:
    # 2026-03-01 00:30 in Berlin is still February 28th in UTC.
    now = datetime(2026, 3, 1, 0, 30, tzinfo=BERLIN).timestamp()
    assert datetime.fromtimestamp(day_start(now, BERLIN), BERLIN) == datetime(
        2026, 3, 1, tzinfo=BERLIN
    )
    assert month_start(now, BERLIN) == day_start(now, BERLIN)
    assert trend_origin(now, BERLIN, 2) == day_start(now, BERLIN) + 86400 - 14 * 86400
