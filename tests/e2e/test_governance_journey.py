"""In headless Chromium: an approver signs in, approves a refund and sees it succeed at the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from core.adapters.stripe_gateway import StripeGateway, make_client
from tests.conftest import settings_for
from tests.support.browser import open_page, screenshot, sign_in
from tests.support.governance import PASSWORD, make_refund_request, make_user
from tests.support.sandbox import SANDBOX_KEY


@pytest.fixture
def seeded(e2e_db: dict[str, Any], e2e_sandbox: Any) -> dict[str, Any]:
    settings = settings_for(
        e2e_db["url"], STRIPE_API_KEY=SANDBOX_KEY, STRIPE_API_BASE=e2e_sandbox.url
    )
    gw = StripeGateway(make_client(settings))
    charges = gw.list_page("charges", {"limit": 100})["data"]
    charge = next(
        c
        for c in charges
        if c["status"] == "succeeded"
        and not c["refunded"]
        and not c["disputed"]
        and c["amount"] > 2000
    )
    with e2e_db["Session"].begin() as s:
        operator = make_user(s, "olga", "operator")
        make_user(s, "abe", "approver")
        action = make_refund_request(
            s, operator, charge["id"], amount=1500, rule_id="refunds.goodwill"
        )
    return {"gw": gw, "charge": charge["id"], "action": action.id}


def test_approver_signs_in_approves_a_refund_and_sees_it_succeed(
    seeded: dict[str, Any], dashboard: Any, browser_page: Any
) -> None:
    page = browser_page
    sign_in(page, dashboard.url, "abe", PASSWORD)
    open_page(page, "Approvals")
    card = f"#{seeded['action']} Refund · {seeded['charge']} · $15.00"
    expect(page.get_by_text(card)).to_be_visible()
    # the rule, in the card's why (its brief names it too, in a sentence)
    expect(page.get_by_text("refunds.goodwill", exact=True)).to_be_visible()
    screenshot(page, "approvals-awaiting")

    page.get_by_label("Reason for your decision (required)").fill(
        "goodwill refund agreed with support"
    )
    page.get_by_role("button", name="Approve", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Confirm approval")).to_be_visible()
    screenshot(page, "approvals-confirm-dialog")
    dialog.get_by_role("button", name="Confirm approval").click()
    expect(page.get_by_text(f"Action #{seeded['action']} is now approved.")).to_be_visible(
        timeout=30_000
    )

    page.get_by_role("tab", name="In flight (1)").click()
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_text(f"Action #{seeded['action']}: succeeded.")).to_be_visible(
        timeout=30_000
    )
    page.get_by_role("tab", name="Recent outcomes (1)").click()
    expect(
        page.locator("td").filter(has_text="Refunded $15.00").first
    ).to_be_attached()  # canvas table
    screenshot(page, "approvals-succeeded")

    refunds = seeded["gw"].list_refunds(charge=seeded["charge"])
    assert [r["amount"] for r in refunds] == [1500]
    assert refunds[0]["metadata"]["ledgerdesk_action_id"] == str(seeded["action"])
