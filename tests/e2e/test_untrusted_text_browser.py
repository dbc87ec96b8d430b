"""In headless Chromium: hostile outside text never becomes an image, link or badge in the DOM.

The desk holds a customer named `![px](https://evil.example/pixel.png)`, a CRM owner written as a
phishing link and a ticket subject written as a Streamlit badge (tests/support/hostile.py). An
approver and an operator open the pages that show them; the rendered DOM must hold no element
pointing at evil.example and no badge, while the text itself is visible.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import settings_for
from tests.support.browser import open_page, screenshot, sign_in
from tests.support.governance import PASSWORD
from tests.support.hostile import PIXEL, seed_hostile

# Any image or web link to the attacker's host. (An e-mail address stays a mailto: link, as every
# address in Markdown does: the owner's address is meant to be written to.)
EVIL = (
    "[src*='evil.example'], [srcset*='evil.example'], [href*='evil.example']:not([href^='mailto:']),"
    " .stMarkdownBadge"
)
# The desk's own badge (the Stripe mode in the sidebar) is allowed; the planted one is not.
FOUND = """els => els
    .filter(e => !e.classList.contains('stMarkdownBadge') || e.textContent.includes('Refund'))
    .map(e => e.outerHTML.slice(0, 160))"""


@pytest.fixture
def dashboard_env(e2e_db: dict[str, Any]) -> dict[str, str]:
    """No Stripe server needed: the pages read the seeded database only."""
    seed_hostile(
        e2e_db["Session"], settings_for(e2e_db["url"], e2e_db["data_dir"]), int(time.time())
    )
    return {"DATABASE_URL": e2e_db["url"], "LEDGERDESK_DATA_DIR": str(e2e_db["data_dir"])}


def _settled(page: Any) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(2_500)  # the fragments and tabs finish drawing


def _assert_inert(page: Any, name: str) -> None:
    found = page.eval_on_selector_all(EVIL, FOUND)
    screenshot(page, f"untrusted-{name}")
    assert not found, f"{name}: {found}"


@pytest.mark.parametrize(
    ("user", "pages"),
    [
        ("operator", ("Failed payments", "Disputes", "Drift")),
        ("approver", ("Overview", "Approvals")),
    ],
)
def test_hostile_names_owners_and_subjects_render_as_text(
    dashboard: Any, browser_page: Any, user: str, pages: tuple[str, ...]
) -> None:
    page = browser_page
    sign_in(page, dashboard.url, user, PASSWORD)
    for title in pages:
        if title != "Overview":
            open_page(page, title)
        _settled(page)
        if title in ("Failed payments", "Approvals"):
            # Shown as typed (a word joiner sits invisibly after "https:").
            shown = page.get_by_test_id("stMarkdownContainer").filter(has_text=PIXEL.split(":")[0])
            expect(shown.first).to_be_visible()
        _assert_inert(page, title)
