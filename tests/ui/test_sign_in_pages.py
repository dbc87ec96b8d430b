"""AppTest for sign-in: the lock after repeated failures, session timeouts, the password form and
failed sign-ins on the audit page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db import make_engine, make_sessionmaker, migrate
from core.governance import auth
from core.governance.auth import SYSTEM_ACTOR
from core.models.governance import AuditEntry
from dashboard.auth import SEEN_KEY, SESSION_KEY, STARTED_KEY
from tests.support.governance import PASSWORD, make_team

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEAM_TIMEZONE", "UTC")
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE", "LEDGERDESK_SANDBOX", "SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        team = make_team(s)
    return {"Session": Session, "team": team}


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=30)


def try_password(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    return at.button[0].click().run()


def test_repeated_wrong_passwords_lock_the_account_and_the_right_one_is_refused(
    world: dict[str, Any],
) -> None:
    at = app().run()
    for i in range(6):
        try_password(at, "approver", f"wrong password {i}!")
        assert not at.exception and at.error
    try_password(at, "approver", PASSWORD)
    assert not at.exception
    assert SESSION_KEY not in at.session_state
    message = at.error[0].value
    assert message.startswith("This account is locked until ")
    assert "(UTC) after 5 failed attempts; try again then, or ask an admin." in message
    assert at.title[0].value == "Sign in to Ledgerdesk"


@pytest.mark.parametrize(
    ("started_ago", "seen_ago", "why"),
    [
        (3600, 31 * 60, "Your session expired after 30 minutes without activity; sign in again."),
        (13 * 3600, 60, "Your session expired 12 hours after you signed in; sign in again."),
    ],
)
def test_an_idle_or_old_session_ends_at_the_sign_in_form(
    world: dict[str, Any], started_ago: int, seen_ago: int, why: str
) -> None:
    at = app()
    at.session_state[SESSION_KEY] = world["team"]["approver"]
    at.session_state[STARTED_KEY] = time.time() - started_ago
    at.session_state[SEEN_KEY] = time.time() - seen_ago
    at.run()
    assert not at.exception
    assert SESSION_KEY not in at.session_state
    assert at.title[0].value == "Sign in to Ledgerdesk"
    assert [w.value for w in at.warning] == [why]
    with world["Session"]() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (last.action, last.actor, last.after) == (
            "sign_out",
            "approver",
            {"reason": why.removesuffix("; sign in again.")},
        )
    try_password(at, "approver", PASSWORD)  # signing in again starts a fresh session
    assert at.session_state[SESSION_KEY].username == "approver" and not at.warning


def test_an_active_session_stays_and_each_click_counts_as_activity(world: dict[str, Any]) -> None:
    at = app()
    at.session_state[SESSION_KEY] = world["team"]["approver"]
    at.session_state[STARTED_KEY] = time.time() - 3600
    at.session_state[SEEN_KEY] = time.time() - 29 * 60
    at.run()
    assert not at.exception
    assert at.session_state[SESSION_KEY].username == "approver"
    assert time.time() - at.session_state[SEEN_KEY] < 60


def test_the_new_password_form_says_what_to_fix(world: dict[str, Any]) -> None:
    with world["Session"].begin() as s:
        _, one_time = auth.create_user(s, SYSTEM_ACTOR, "quinn", "viewer")
    at = try_password(app().run(), "quinn", one_time or "")
    assert at.title[0].value == "Choose a new password"
    for weak, fix in (
        ("quinnquinn2026", "built from your name, username or e-mail"),
        ("password1234", "this is a very common password"),
        (" " * 12, "repeats like"),
    ):
        at.text_input[0].input(one_time or "")
        at.text_input[1].input(weak)
        at.text_input[2].input(weak)
        at.button[0].click().run()
        assert not at.exception and fix in at.error[0].value
    at.text_input[0].input(one_time or "")
    at.text_input[1].input("lantern orbit pickle saxophone")
    at.text_input[2].input("lantern orbit pickle saxophone")
    at.button[0].click().run()
    assert not at.exception and all(t.value != "Choose a new password" for t in at.title)


def test_the_audit_page_lists_failed_sign_ins_and_current_locks(world: dict[str, Any]) -> None:
    at = app().run()
    for i in range(5):
        try_password(at, "admin", f"guess {i} for admin")
    try_password(at, "nobody-here", "some password 1")
    page = AppTest.from_file(str(ROOT / "pages" / "audit_log.py"), default_timeout=30)
    page.session_state[SESSION_KEY] = world["team"]["approver"]
    page.run()
    assert not page.exception
    assert page.expander[0].label == "Failed sign-ins, last 24 hours: 6 · 1 locked now"
    assert page.warning[0].value.startswith("Account 'admin' is locked until ")
    table = page.expander[0].dataframe[0].value
    assert list(table["user tried"]) == ["nobody-here"] + ["admin"] * 5
    assert list(table["source"]) == ["local"] * 6
    assert table["reason"].iloc[0] == "no such user"
    assert set(table["reason"].iloc[1:]) <= {"wrong password", "too soon after a failure"}
