"""In headless Chromium: an approver opens an approval card and a failed-payment case and reads
each one's brief — the model's (through the loopback OpenAI-compatible stub) on the card, the
template's on the case once the model's answer is turned down by the guard."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from core.models.sync import SyncState
from tests.support.briefs import seed_desk
from tests.support.browser import open_page, screenshot, sign_in
from tests.support.governance import PASSWORD
from tests.support.openai_stub import OpenAIStub, running_openai_stub

MODEL_BRIEF = (
    "Request #1 asks for a refund of $800.00 for Big Co (cus_big); it needs 2 approvals. "
    "Big Co is an enterprise account with MRR $9,000.00 and 1 open ticket."
)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with running_openai_stub() as s:
        yield s


@pytest.fixture
def dashboard_env(e2e_db: dict[str, Any], stub: OpenAIStub) -> dict[str, str]:
    """No Stripe server: the pages read the seeded desk; the model is the loopback stub."""
    seed_desk(e2e_db["Session"])
    now = int(time.time())
    with e2e_db["Session"].begin() as s:
        s.add(
            SyncState(
                account="",
                stream="events",
                status="idle",
                cursor="evt_seeded_head",  # the first load is complete: pages show the desk
                last_created=now - 30,
                last_attempt_at=datetime.fromtimestamp(now - 5, UTC),
                last_success_at=datetime.fromtimestamp(now - 5, UTC),
            )
        )
    # the approval card's brief, then an answer for the case that is no brief at all
    stub.replies = [{"brief": MODEL_BRIEF}, {"brief": "Maria Lopez will sort it out."}]
    return {
        "DATABASE_URL": e2e_db["url"],
        "LEDGERDESK_DATA_DIR": str(e2e_db["data_dir"]),
        "OPENAI_API_KEY": "sk-test-stub",
        "OPENAI_BASE_URL": stub.url,
    }


def test_an_approver_reads_the_briefs_on_the_card_and_the_case(
    dashboard: Any, browser_page: Any, stub: OpenAIStub
) -> None:
    page = browser_page
    sign_in(page, dashboard.url, "approver", PASSWORD)
    open_page(page, "Approvals")
    card = page.get_by_test_id("stAlertContentInfo").filter(has_text="asks for a refund")
    expect(card.first).to_have_text(MODEL_BRIEF, timeout=30_000)
    expect(page.get_by_text("Brief written by gpt-4o-mini").first).to_be_visible()
    screenshot(page, "brief-approval-card")
    open_page(page, "Failed payments")
    case = page.get_by_test_id("stAlertContentInfo").filter(has_text="did not pay invoice")
    expect(case.first).to_contain_text(
        "“Big Co” (cus_big) did not pay invoice INV-0001 ($2,500.00)", timeout=30_000
    )
    expect(case.first).to_contain_text("REC-HIGH-VALUE")
    expect(page.get_by_text("names something not in the facts").first).to_be_visible()
    screenshot(page, "brief-failed-payment")
    assert len(stub.requests) == 2
