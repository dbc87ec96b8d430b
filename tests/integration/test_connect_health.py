"""Sync health of a Connect platform (STRIPE_ACCOUNTS=all), on SQLite and PostgreSQL.

The chart's runs of every account are summed in SQL per quarter hour and agree with the runs
read one by one; the Sync health page of a platform with many accounts shows one table (every
account, with its status) and cards only for the accounts that need attention.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from core.db import make_sessionmaker
from core.models.sync import SyncRun, SyncState
from core.sync.health import sync_history, sync_history_total
from core.sync.leases import AccountLeases
from dashboard.auth import SESSION_KEY
from tests.support.governance import make_team
from tests.support.pages import page_desk

ROOT = Path(__file__).resolve().parents[2]
BUCKET = 900


def _run(account: str, at: datetime, events: int, lag: float, ok: bool = True) -> SyncRun:
    return SyncRun(
        account=account,
        stream="events",
        started_at=at - timedelta(seconds=2),
        finished_at=at,
        ok=ok,
        events_new=events,
        lag_seconds=lag,
    )


def test_the_total_chart_sums_every_account_per_quarter_hour(Session: Any) -> None:
    now = time.time()
    start = datetime.fromtimestamp((int(now) // BUCKET - 3) * BUCKET + 10, UTC)
    runs = [
        _run(f"acct_{n}", start + timedelta(seconds=60 * k + n), 3 * n + k, float(n + k), ok=n != 4)
        for n in range(6)
        for k in range(4)
    ] + [_run("", start + timedelta(seconds=BUCKET + 5), 11, 99.0)]
    with Session.begin() as s:
        s.add_all(runs)
    with Session() as s:
        total = sync_history_total(s, hours=2, now=now, bucket=BUCKET)
        each = sync_history(s, hours=2, now=now)
    assert [p.events_new for p in total] == [sum(r.events_new for r in runs[:-1]), 11]
    assert sum(p.events_new for p in total) == sum(p.events_new for p in each)
    assert [p.lag_seconds for p in total] == [8.0, 99.0]
    assert [p.ok for p in total] == [False, True]  # acct_4's runs failed in the first
    assert total[0].events_per_hour == total[0].events_new * 3600 / BUCKET
    assert total[0].at == datetime.fromtimestamp((int(now) // BUCKET - 2) * BUCKET, UTC)


def test_sync_health_of_a_platform_with_many_accounts(tmp_path: Path) -> None:
    accounts = [f"acct_1Conn{n:03d}" for n in range(14)]
    env = {"STRIPE_ACCOUNTS": "all", "TEAM_TIMEZONE": "UTC"}
    cleared = ("STRIPE_API_KEY", "STRIPE_API_BASE", "LEDGERDESK_SANDBOX")
    with page_desk(tmp_path, "connect.db", cleared, **env) as (_url, engine):
        Session = make_sessionmaker(engine)
        AccountLeases(Session).register(["", *accounts])
        now = datetime.now(UTC)
        with Session.begin() as s:
            for a in ["", *accounts[:12]]:  # two accounts were never synced
                s.add(_run(a, now - timedelta(minutes=1), 2, 1.0))
                s.add(SyncState(account=a, stream="events", cursor="evt_1", last_success_at=now))
        with Session.begin() as s:
            admin = make_team(s)["admin"]
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
        at.session_state[SESSION_KEY] = admin
        at.run()
        at.switch_page("../pages/sync_health.py").run()
        assert not at.exception, at.exception
        table = at.dataframe[0].value
        assert list(table["Account"]) == ["platform", *accounts]
        assert list(table["Status"]).count("never") == 2
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Accounts never synced"] == "2"
        cards = [h.value for h in at.subheader if "Never synced" in h.value]
        assert len(cards) == 2  # cards only where something is to be done
        sidebar = " ".join(str(c.value) for c in at.sidebar.get("caption"))
        assert "every connected account" in sidebar
        at.switch_page("../pages/home.py").run()
        assert not at.exception, at.exception
        assert any("platform + 14 connected accounts" in str(c.value) for c in at.caption)
