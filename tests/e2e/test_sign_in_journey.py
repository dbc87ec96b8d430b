"""In headless Chromium, over the real websocket: six wrong passwords lock the account and the
right one is then refused with the lock message; an idle session ends at the sign-in form."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from core.models.governance import SignInFailure
from tests.support.browser import screenshot, sign_in
from tests.support.governance import PASSWORD, make_user
from tests.support.sandbox import SANDBOX_KEY

IDLE_MINUTES = "0.15"  # nine seconds, so the test can wait it out


@pytest.fixture
def dashboard_env(e2e_db: dict[str, Any], e2e_sandbox: Any) -> dict[str, str]:
    with e2e_db["Session"].begin() as s:
        make_user(s, "abe", "approver")
    return {
        "DATABASE_URL": e2e_db["url"],
        "LEDGERDESK_DATA_DIR": str(e2e_db["data_dir"]),
        "STRIPE_API_KEY": SANDBOX_KEY,
        "STRIPE_API_BASE": e2e_sandbox.url,
        "LEDGERDESK_SANDBOX": "1",
        "TEAM_TIMEZONE": "UTC",
        "SESSION_IDLE_MINUTES": IDLE_MINUTES,
    }


def failures(e2e_db: dict[str, Any]) -> int:
    with e2e_db["Session"]() as s:
        return int(s.scalar(select(func.count()).select_from(SignInFailure)) or 0)


def settled(page: Any) -> None:
    """Wait until the app's script run has finished (a rerun briefly shows the old form too)."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=30_000
    )
    expect(page.get_by_role("textbox", name="Username")).to_have_count(1, timeout=30_000)


def submit(page: Any, username: str, password: str) -> None:
    settled(page)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_six_wrong_passwords_lock_the_account_and_the_right_one_is_refused(
    e2e_db: dict[str, Any], dashboard: Any, browser_page: Any
) -> None:
    page = browser_page
    page.goto(dashboard.url)
    expect(page.get_by_text("Sign in to Ledgerdesk")).to_be_visible(timeout=30_000)
    for i in range(6):
        submit(page, "abe", f"not the password {i}")
        deadline = time.monotonic() + 30
        while failures(e2e_db) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.1)  # each refusal is committed before the browser hears of it
        assert failures(e2e_db) == i + 1
        time.sleep(0.3)  # the rerun that shows the refusal starts after the commit
    submit(page, "abe", PASSWORD)
    expect(
        page.get_by_text(
            re.compile(
                r"This account is locked until \d\d:\d\d \(UTC\) after 5 failed attempts; "
                r"try again then, or ask an admin\."
            )
        )
    ).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    screenshot(page, "sign-in-locked")
    with e2e_db["Session"]() as s:
        reasons = list(s.scalars(select(SignInFailure.reason).order_by(SignInFailure.id)))
    assert reasons[-1] == "locked" and len(reasons) == 7
    assert all(r in ("wrong_password", "too_soon", "locked") for r in reasons)


def test_an_idle_session_ends_at_the_sign_in_form(dashboard: Any, browser_page: Any) -> None:
    page = browser_page
    sign_in(page, dashboard.url, "abe", PASSWORD)
    # Nobody clicks: the session's own timer notices the idle limit and signs out.
    expect(
        page.get_by_text(
            f"Your session expired after {IDLE_MINUTES} minutes without activity; sign in again."
        )
    ).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Sign in to Ledgerdesk")).to_be_visible()
    expect(page.get_by_text("Signed in as abe")).to_have_count(0)
    screenshot(page, "sign-in-session-expired")
