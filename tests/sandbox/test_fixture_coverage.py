"""Every object type the sandbox serves carries the top-level fields of Stripe's fixture for it.

Fixtures: `../shared/stripe/fixtures3.json` (Stripe's OpenAPI examples, from stripe-mock).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import stripe

from sandbox.server import SandboxServer

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "stripe" / "fixtures3.json"
# Fields Stripe removed from the current API version (2025-03-31.basil onwards) that the older
# fixture still shows; the sandbox renders the current shape, as Stripe does.
REMOVED_IN_CURRENT_API = {"invoice": {"subscription"}}
CHECKED_TYPES = [
    "customer",
    "product",
    "price",
    "subscription",
    "subscription_item",
    "invoice",
    "line_item",
    "invoice_payment",
    "payment_intent",
    "charge",
    "refund",
    "dispute",
    "radar.early_fraud_warning",
    "payout",
    "balance_transaction",
    "event",
    "file",
    "customer_balance_transaction",
]


@pytest.fixture(scope="module")
def fixtures() -> dict[str, Any]:
    if not FIXTURES.exists():
        pytest.fail(
            f"Stripe fixtures not found at {FIXTURES}; the sandbox tier needs ../shared/stripe"
        )
    return json.loads(FIXTURES.read_text())["resources"]


def _served(sbx: SandboxServer, client: stripe.StripeClient) -> dict[str, dict[str, Any]]:
    """One object of each type, fetched over HTTP."""
    out: dict[str, dict[str, Any]] = {}
    v1 = client.v1
    out["customer"] = v1.customers.list({"limit": 1}).data[0].to_dict()
    out["product"] = v1.products.list({"limit": 1}).data[0].to_dict()
    out["price"] = v1.prices.list({"limit": 1}).data[0].to_dict()
    sub = v1.subscriptions.list({"limit": 1}).data[0].to_dict()
    out["subscription"], out["subscription_item"] = sub, sub["items"]["data"][0]
    inv = (
        v1.invoices.list({"limit": 1, "status": "paid", "expand": ["data.payments"]})
        .data[0]
        .to_dict()
    )
    out["invoice"], out["line_item"], out["invoice_payment"] = (
        inv,
        inv["lines"]["data"][0],
        inv["payments"]["data"][0],
    )
    out["payment_intent"] = v1.payment_intents.list({"limit": 1}).data[0].to_dict()
    out["charge"] = v1.charges.list({"limit": 1}).data[0].to_dict()
    out["refund"] = v1.refunds.list({"limit": 1}).data[0].to_dict()
    out["dispute"] = v1.disputes.list({"limit": 1}).data[0].to_dict()
    out["radar.early_fraud_warning"] = (
        v1.radar.early_fraud_warnings.list({"limit": 1}).data[0].to_dict()
    )
    out["payout"] = v1.payouts.list({"limit": 1}).data[0].to_dict()
    out["balance_transaction"] = v1.balance_transactions.list({"limit": 1}).data[0].to_dict()
    out["event"] = v1.events.list({"limit": 1}).data[0].to_dict()
    out["file"] = v1.files.create(
        {"purpose": "dispute_evidence", "file": io.BytesIO(b"%PDF-1.4 x")}
    ).to_dict()
    cbt = v1.customers.balance_transactions.create(
        out["customer"]["id"], {"amount": -100, "currency": "usd"}
    )
    out["customer_balance_transaction"] = cbt.to_dict()
    return out


def test_every_served_type_has_the_fixture_fields(
    sbx: SandboxServer, client: stripe.StripeClient, fixtures: dict[str, Any]
) -> None:
    served = _served(sbx, client)
    assert sorted(served) == sorted(CHECKED_TYPES)
    problems = {}
    for otype in CHECKED_TYPES:
        expected = set(fixtures[otype]) - REMOVED_IN_CURRENT_API.get(otype, set())
        missing = expected - set(served[otype])
        if missing:
            problems[otype] = sorted(missing)
        assert served[otype]["object"] == fixtures[otype]["object"]
    assert problems == {}


def test_removed_fields_really_moved(client: stripe.StripeClient) -> None:
    inv = client.v1.invoices.list({"limit": 1}).data[0]
    assert "subscription" not in inv
    assert (
        inv.parent.type == "subscription_details" and inv.parent.subscription_details.subscription
    )
