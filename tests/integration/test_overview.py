"""The Overview read model on SQLite and PostgreSQL: every tile's figure from seeded rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.reports.overview import dispute_trend, failure_trend, overview, recovery_trend
from tests.conftest import settings_for
from tests.support.overview import seed_desk

# Wednesday 2026-03-18 14:00 UTC (15:00 in Berlin): far from day and month boundaries.
NOW = int(datetime(2026, 3, 18, 14, 0, tzinfo=UTC).timestamp())


def _settings(db_url: str) -> Any:
    return settings_for(db_url, TEAM_TIMEZONE="Europe/Berlin")


def test_tiles_count_what_was_seeded(Session: Any, db_url: str) -> None:
    settings = _settings(db_url)
    seeded = seed_desk(Session, settings, NOW)
    team = seeded["team"]
    with Session() as s:
        ov = overview(s, settings, team["approver"], now=NOW)
    assert ov.has_data
    assert ov.failed_today == 2
    assert ov.failed_today_amounts == {"usd": 4900 + 12000}
    assert ov.at_risk_cases == 3  # today's two and last month's
    assert ov.at_risk_amounts == {"usd": 4900 + 12000 + 3000}
    assert (ov.recovered_this_month, ov.recovered_amounts) == (1, {"usd": 2500})
    assert ov.disputes_due_72h == 1
    assert ov.nearest_due_by == NOW + 20 * 3600
    assert ov.disputes_past_due == 1
    assert ov.approvals_waiting == 1
    assert ov.drift.day is not None and ov.drift.alarms == seeded["drift_alarms"]
    assert ov.sync.status == "ok" and ov.sync.max_lag_seconds == 30


def test_role_decides_approvals_tile_and_empty_store(Session: Any, db_url: str) -> None:
    settings = _settings(db_url)
    seeded = seed_desk(Session, settings, NOW, with_drift=False)
    with Session() as s:
        viewer = overview(s, settings, seeded["team"]["viewer"], now=NOW)
        requester = overview(s, settings, seeded["team"]["operator"], now=NOW)
    assert viewer.approvals_waiting is None  # viewers never approve
    assert requester.approvals_waiting is None
    assert viewer.drift.day is None and viewer.drift.alarms == 0


def test_empty_store_says_no_data(Session: Any, db_url: str) -> None:
    from core.governance.auth import Actor

    settings = _settings(db_url)
    with Session() as s:
        ov = overview(s, settings, Actor(None, "ann", "admin"), now=NOW)
    assert not ov.has_data and ov.failed_today == 0 and ov.at_risk_amounts == {}
    assert ov.nearest_due_by is None and ov.sync.status == "never"
    assert ov.approvals_waiting == 0


def test_weekly_trends(Session: Any, db_url: str) -> None:
    settings = _settings(db_url)
    seed_desk(Session, settings, NOW, with_drift=False)
    with Session() as s:
        rec = recovery_trend(s, settings, weeks=12, now=NOW)
        dis = dispute_trend(s, settings, weeks=12, now=NOW)
        fail = failure_trend(s, settings, weeks=12, now=NOW)
    assert len(rec) == len(dis) == len(fail) == 12
    assert rec[-1]["opened"] == 3 and rec[-1]["recovered"] == 1  # this week: today's two + in_rec
    assert rec[-1]["recovery_rate"] == round(100 / 3, 1)
    assert sum(r["opened"] for r in rec) == 4 and rec[0]["recovery_rate"] is None
    assert sum(w["failed_payments"] for w in fail) == 4
    assert fail[-1]["failed_payments"] == 3
    assert sum(w["disputes"] for w in dis) == 3
    assert dis[-1]["disputes"] == 2 and dis[-1]["amounts"] == {"usd": 35_000}
