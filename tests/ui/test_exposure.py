"""What the dashboard shows about its infrastructure, and to whom; the webhook counters.

The database path, its URL and the Stripe host are for admins only: a viewer, operator or
approver sees the mode and the accounts, never where the desk's data lives. The Sync health
page lists every webhook refusal by reason with its last detail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.db import make_sessionmaker
from core.models.sync import WebhookReject
from dashboard.auth import SESSION_KEY
from tests.support.governance import make_team
from tests.support.pages import page_desk

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
API_BASE = "http://127.0.0.1:47999"
CLEARED = ("STRIPE_API_KEY", "LEDGERDESK_SANDBOX", "SMTP_URL", "SLACK_WEBHOOK_URL",
           "OPENAI_API_KEY", "STRIPE_ACCOUNTS")  # fmt: skip


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("exposure-secretfolder")
    with page_desk(folder, "exposure.db", CLEARED, STRIPE_API_BASE=API_BASE) as (_url, engine):
        Session = make_sessionmaker(engine)
        now = datetime.now(UTC)
        with Session.begin() as s:
            team = make_team(s)
            s.add_all(
                [
                    WebhookReject(reason="too_deep", count=3, last_at=now, last_detail="deep body"),
                    WebhookReject(reason="slow_headers", count=40, last_at=now, last_detail="slow"),
                    WebhookReject(reason="unknown_type", count=2, last_at=now, last_detail="evt_x"),
                ]
            )
        yield {"team": team, "folder": str(folder)}


def _everything_shown(at: AppTest) -> str:
    """The protobuf of every element on the page and in the sidebar, tooltips included."""
    out: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def _page(actor: Any, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[SESSION_KEY] = actor
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("role", ["viewer", "operator", "approver"])
def test_only_admins_see_the_database_and_hosts(desk: dict[str, Any], role: str) -> None:
    for page in ("../pages/home.py", "../pages/sync_health.py"):
        shown = _everything_shown(_page(desk["team"][role], page))
        assert desk["folder"] not in shown and "exposure.db" not in shown, (role, page)
        assert "127.0.0.1" not in shown and "47999" not in shown, (role, page)
    admin = _everything_shown(_page(desk["team"]["admin"], "../pages/home.py"))
    assert desk["folder"] in admin and "127.0.0.1:47999" in admin


def test_the_health_page_counts_webhook_refusals_by_reason(desk: dict[str, Any]) -> None:
    at = _page(desk["team"]["viewer"], "../pages/sync_health.py")
    assert {m.label: m.value for m in at.metric}["Webhook rejects"] == "43"
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "reason" in f.columns)
    counts = dict(zip(table["reason"], table["count"], strict=True))
    assert counts == {"slow_headers": 40, "too_deep": 3, "unknown_type": 2}
    assert "200, stored only" in set(table["answered"])
