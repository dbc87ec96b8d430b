"""Every registered page renders for every role allowed to see it; the others are not navigable.

The app runs through `dashboard/app.py` (the real navigation and sign-in gate) on a SQLite file
seeded through the product's services, with one AppTest per role switching across the pages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.db import make_sessionmaker
from core.errors import PermissionDenied
from core.governance import auth
from dashboard.auth import SESSION_KEY
from dashboard.registry import ALL_ROLES, PAGES
from tests.conftest import settings_for
from tests.support.overview import seed_desk
from tests.support.pages import page_desk

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
ENV = {"TEAM_TIMEZONE": "Europe/Berlin"}
CLEARED = ("STRIPE_API_KEY", "STRIPE_API_BASE", "LEDGERDESK_SANDBOX", "SMTP_URL",
           "SLACK_WEBHOOK_URL", "OPENAI_API_KEY")  # fmt: skip


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("smoke")
    with page_desk(folder, "ui.db", CLEARED, **ENV) as (url, engine):
        Session = make_sessionmaker(engine)
        seeded = seed_desk(Session, settings_for(url, folder, **ENV), int(time.time()))
        yield {"Session": Session, **seeded}


def _signed_in(actor: Any) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[SESSION_KEY] = actor
    return at.run()


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption") for e in at.get(kind))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_allowed_page_renders_and_the_rest_is_absent(desk: dict[str, Any], role: str) -> None:
    actor = desk["team"][role]
    at = _signed_in(actor)
    assert not at.exception, at.exception
    assert at.title and at.title[0].value == "Overview"  # the landing page
    sidebar = " ".join(str(e.value) for e in at.sidebar.get("markdown")) + " ".join(
        str(e.value) for e in at.sidebar.get("caption")
    )
    assert "Sandbox" in sidebar or "test mode" in sidebar  # the mode is always visible
    assert actor.username in sidebar and "Europe/Berlin" in sidebar
    for spec in PAGES:
        rel = os.path.relpath(ROOT / spec.file, ROOT / "dashboard")
        if role in spec.roles:
            at.switch_page(rel).run()
            assert not at.exception, f"{spec.file} as {role}: {at.exception}"
            assert not any("Traceback" in str(e.value) for e in at.error), spec.file
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(rel)


def test_overview_tiles_show_the_seeded_desk(desk: dict[str, Any]) -> None:
    at = _signed_in(desk["team"]["approver"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Failed payments today"] == "2"
    assert metrics["Amount at risk"] == "$199.00"
    assert metrics["Disputes due in 72 h"] == "1"
    assert metrics["Waiting for your approval"] == "1"
    assert metrics["Sync health"].endswith("OK")
    assert "Open the deadline board" in [link.label for link in at.get("page_link")]
    assert len(at.get("plotly_chart")) == 3
    captions = " ".join(c.value for c in at.caption)
    drift = captions.split("As of ")[1]
    assert ":" in drift and "_" not in drift, drift  # labels, not codes
    assert "invoice paid after a failure" in captions or "invoices paid after" in captions


def test_signed_out_visitor_sees_only_the_sign_in_form(desk: dict[str, Any]) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in to Ledgerdesk"]
    assert not at.metric and "Overview" not in _texts(at)


def test_core_refuses_what_the_navigation_hides(desk: dict[str, Any]) -> None:
    admin_only = [p for p in PAGES if p.roles == ("admin",)]
    assert admin_only  # Users & policy
    with desk["Session"].begin() as s, pytest.raises(PermissionDenied):
        auth.set_role(s, desk["team"]["operator"], "viewer", "admin")


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_overview_tiles_link_every_role_to_the_pages_it_may_open(
    desk: dict[str, Any], role: str
) -> None:
    at = _signed_in(desk["team"][role])
    assert not at.exception, at.exception
    assert "Open the recovery queue" in [link.label for link in at.get("page_link")]
    assert "not available for your role" not in _texts(at)
