"""In headless Chromium: an operator asks the desk assistant (the real dashboard process, the
real `openai` client, a scripted model on loopback), reads the answer with the hostile ticket
subject shown as typed, sees the records used and the proposal waiting for approval."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.models.governance import ActionRequest
from tests.support.assistant import last_tool_result, seed_desk, tool_call
from tests.support.browser import open_page, screenshot, sign_in
from tests.support.governance import PASSWORD, make_team
from tests.support.hostile import PIXEL
from tests.support.openai_stub import OpenAIStub, running_openai_stub

EVIL = "[src*='evil.example'], [href*='evil.example']"


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with running_openai_stub() as server:
        yield server


@pytest.fixture
def dashboard_env(e2e_db: dict[str, Any], stub: OpenAIStub) -> dict[str, str]:
    """No Stripe server needed; the model is the stub."""
    with e2e_db["Session"].begin() as s:
        make_team(s)
    e2e_db["seeded"] = seed_desk(e2e_db["Session"], {"ticket_subject": PIXEL})
    return {
        "DATABASE_URL": e2e_db["url"],
        "LEDGERDESK_DATA_DIR": str(e2e_db["data_dir"]),
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": stub.url,
    }


def test_an_operator_asks_and_a_proposal_waits(
    dashboard: Any, browser_page: Any, stub: OpenAIStub, e2e_db: dict[str, Any]
) -> None:
    dispute = e2e_db["seeded"]["disputes"]["cus_ent1"]
    charge = e2e_db["seeded"]["refundable_charge"]
    stub.replies = [
        tool_call("get_record", kind="dispute", id=dispute),
        tool_call(
            "propose_action", action_type="refund", target_id=charge, reason="duplicate payment"
        ),  # fmt: skip
        lambda body: (
            f"Dispute {dispute} has the open ticket "
            + last_tool_result({"messages": body["messages"][:-2]})["rows"][0]["open_tickets"][0][
                "subject"
            ]
            + f". Refund proposed as action {last_tool_result(body)['rows'][0]['action_id']}."
        ),
    ]
    page = browser_page
    sign_in(page, dashboard.url, "operator", PASSWORD)
    open_page(page, "Desk assistant")
    page.get_by_role("textbox", name="Question").fill(f"Dispute {dispute}: refund {charge}?")
    page.get_by_role("button", name="Ask").click()
    expect(page.get_by_text("Nothing has been executed")).to_be_visible(timeout=30_000)
    answer = page.get_by_test_id("stMarkdownContainer").filter(has_text=f"Dispute {dispute} has")
    expect(answer.first).to_be_visible()
    expect(answer.first).to_contain_text("![px](https:")  # the hostile subject, as typed
    page.wait_for_timeout(1_000)
    assert page.eval_on_selector_all(EVIL, "els => els.map(e => e.outerHTML)") == []
    expect(page.get_by_text("Records used")).to_be_visible()
    screenshot(page, "assistant-answer")
    with e2e_db["Session"]() as s:
        action = s.scalars(select(ActionRequest)).one()
    assert (action.status, action.amount, action.requested_by) == ("requested", 12_000, "operator")
    assert len(stub.requests) == 3
