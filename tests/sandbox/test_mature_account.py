"""A mature account: two years of history, saved cards, every reporting category, every dispute
reason and status (appeals included), evidence limits, and the sandbox clock with idempotency."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
import stripe

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sandbox.state import SandboxState
from tests.sandbox.conftest import control, make_client

DAY = 86400
FIXED_NOW = 1_790_000_000.0
REPORTING_CATEGORIES = {
    "charge", "refund", "dispute", "dispute_reversal", "fee", "tax", "payout", "payout_reversal",
    "refund_failure", "other_adjustment", "transfer", "transfer_reversal", "charge_failure",
    "topup", "topup_reversal", "contribution", "connect_collection_transfer", "platform_earning",
    "payout_minimum_balance_hold", "payout_minimum_balance_release", "risk_reserved_funds",
}  # fmt: skip
DISPUTE_STATUSES = {
    "warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
    "under_review", "won", "lost", "prevented", "appeal_needs_response", "appeal_under_review",
}  # fmt: skip
DISPUTE_REASONS = {
    "bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
    "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
    "insufficient_funds", "noncompliant", "product_not_received", "product_unacceptable",
    "subscription_canceled", "unrecognized",
}  # fmt: skip


@pytest.fixture(scope="module")
def demo() -> SandboxState:
    """The default demo account (300 customers, the default history)."""
    return SandboxState(SandboxConfig(now=lambda: FIXED_NOW))


@pytest.fixture(scope="module")
def srv() -> Iterator[SandboxServer]:
    server = SandboxServer(SandboxConfig(port=0, seed=5, customers=40))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_default_history_is_two_years_and_realistic(demo: SandboxState) -> None:
    a = demo.platform
    assert SandboxConfig().days >= 730
    oldest = min(c["created"] for c in a.iter_type("customer"))
    assert FIXED_NOW - oldest >= 730 * DAY
    invoices = list(a.iter_type("invoice"))
    failed_first = [i for i in invoices if i["attempt_count"] > 1 or i["status"] != "paid"]
    assert 0.02 <= len(failed_first) / len(invoices) <= 0.08
    ok = [c for c in a.iter_type("charge") if c["status"] == "succeeded"]
    assert a.count("dispute") / len(ok) < 0.01
    payouts = [p for p in a.iter_type("payout") if p["automatic"]]
    assert 0.8 <= len(payouts) / 730 <= 1.05


def test_every_reporting_category_with_sdk_types(demo: SandboxState) -> None:
    bts = list(demo.platform.iter_type("balance_transaction"))
    assert REPORTING_CATEGORIES <= {b["reporting_category"] for b in bts}
    types = {b["reporting_category"]: b["type"] for b in bts}
    assert types["fee"] == "stripe_fee" and types["charge_failure"] == "payment_failure_refund"
    assert types["transfer_reversal"] == "transfer_refund" and types["payout"] == "payout"
    # Everything that moved the balance was paid out or is waiting for the next payout.
    payouts = [b for b in bts if b["type"] == "payout"]
    assert sum(b["net"] for b in bts) >= 0 and payouts


def test_every_dispute_reason_and_status(demo: SandboxState) -> None:
    disputes = list(demo.platform.iter_type("dispute"))
    assert {d["reason"] for d in disputes} == DISPUTE_REASONS
    assert {d["status"] for d in disputes} == DISPUTE_STATUSES
    now = int(FIXED_NOW)
    for d in disputes:
        details = d["evidence_details"]
        if d["status"] == "appeal_needs_response":
            assert details["submission_count"] == 1 and now < details["due_by"] <= now + 21 * DAY
        if d["status"] == "appeal_under_review":
            assert details["submission_count"] == 2 and d["evidence"]["appeal"]["card"]
        if d["status"].endswith("needs_response") and d["status"] != "appeal_needs_response":
            assert details["submission_count"] == 0


def test_cards_expiries_and_payment_method_events(demo: SandboxState) -> None:
    a = demo.platform
    t = time.gmtime(FIXED_NOW)
    this_month, next_month = (
        (t.tm_year, t.tm_mon),
        ((t.tm_year + t.tm_mon // 12, t.tm_mon % 12 + 1)),
    )
    customers = list(a.iter_type("customer"))
    pms = {p["id"]: p for p in a.iter_type("payment_method")}
    expiring = Counter()
    for c in customers:
        pm = pms[c["invoice_settings"]["default_payment_method"]]
        assert pm["customer"] == c["id"] and pm["card"]["last4"]
        expiring[(pm["card"]["exp_year"], pm["card"]["exp_month"])] += 1
    assert expiring[this_month] and expiring[next_month]
    subs = list(a.iter_type("subscription"))
    with_pm = [s for s in subs if s["default_payment_method"]]
    assert 0.5 < len(with_pm) / len(subs) < 0.9
    assert all(pms[s["default_payment_method"]]["customer"] == s["customer"] for s in with_pm)
    events = Counter(e for e in a.event_counts() if e.startswith("payment_method."))
    assert set(events) == {
        "payment_method.attached",
        "payment_method.updated",
        "payment_method.automatically_updated",
        "payment_method.detached",
    }


def test_payment_method_endpoints(srv: SandboxServer) -> None:
    cl = make_client(srv.url)
    cust = cl.v1.customers.list(
        {"limit": 1, "expand": ["data.invoice_settings.default_payment_method"]}
    ).data[0]
    default = cust.invoice_settings.default_payment_method
    assert default.object == "payment_method" and default.card.exp_year >= 2000
    listed = cl.v1.payment_methods.list({"customer": cust.id, "type": "card"}).data
    assert default.id in [p.id for p in listed]
    assert [p.id for p in cl.v1.customers.payment_methods.list(cust.id).data] == [
        p.id for p in listed
    ]
    assert cl.v1.payment_methods.retrieve(default.id).customer == cust.id
    assert cl.v1.customers.payment_methods.retrieve(cust.id, default.id).id == default.id
    sub = cl.v1.subscriptions.list({"limit": 100, "expand": ["data.default_payment_method"]})
    assert any(s.default_payment_method and s.default_payment_method.card for s in sub.data)


def _open_dispute(srv: SandboxServer) -> str:
    return str(
        control(srv.url, "/_sandbox/simulate/dispute_created", {"reason": "general"})["dispute"]
    )


def test_evidence_field_and_total_limits(srv: SandboxServer) -> None:
    cl = make_client(srv.url)
    dp = _open_dispute(srv)
    too_long = "x" * 20_001
    for field in ("uncategorized_text", "cancellation_policy_disclosure", "cancellation_rebuttal",
                  "refund_refusal_explanation", "access_activity_log"):  # fmt: skip
        with pytest.raises(stripe.InvalidRequestError) as err:
            cl.v1.disputes.update(dp, {"evidence": {field: too_long}, "submit": False})
        assert err.value.http_status == 400 and err.value.error.param == f"evidence[{field}]"
    ok = cl.v1.disputes.update(
        dp, {"evidence": {"uncategorized_text": "x" * 20_000}, "submit": False}
    )
    assert ok.status == "needs_response"
    big = {f: "y" * 19_000 for f in ("access_activity_log", "product_description",
           "cancellation_rebuttal", "refund_refusal_explanation", "duplicate_charge_explanation",
           "refund_policy_disclosure", "cancellation_policy_disclosure")}  # fmt: skip
    with pytest.raises(stripe.InvalidRequestError) as err:
        cl.v1.disputes.update(dp, {"evidence": big, "submit": False})
    assert err.value.error.param == "evidence"
    # Short fields are not limited to 20,000 by Stripe's docs, and the evidence was not touched.
    assert cl.v1.disputes.retrieve(dp).evidence.uncategorized_text == "x" * 20_000


def test_an_appeal_is_answered_through_evidence_appeal(srv: SandboxServer) -> None:
    cl = make_client(srv.url)
    appeal = next(
        d for d in cl.v1.disputes.list({"limit": 100}).data if d.status == "appeal_needs_response"
    )
    assert appeal.evidence_details.submission_count == 1 and appeal.evidence_details.due_by
    first = next(
        d for d in cl.v1.disputes.list({"limit": 100}).data if d.status == "needs_response"
    )
    with pytest.raises(stripe.InvalidRequestError):  # no appeal before the bank has ruled
        cl.v1.disputes.update(
            first.id, {"evidence": {"appeal": {"card": {"reason_for_filing": "x"}}}}
        )
    done = cl.v1.disputes.update(
        appeal.id,
        {"evidence": {"appeal": {"card": {"reason_for_filing": "Signed contract attached."}}}},
    )
    assert done.status == "appeal_under_review"
    assert done.evidence_details.submission_count == 2
    assert done.evidence.appeal.card.reason_for_filing == "Signed contract attached."


def test_idempotency_keys_are_forgotten_after_24_hours_of_sandbox_time(srv: SandboxServer) -> None:
    headers = {"Authorization": "Bearer sk_test_sandbox", "Idempotency-Key": "clock-test-1"}
    charge = next(
        c for c in make_client(srv.url).v1.charges.list({"limit": 100}).data
        if c.status == "succeeded" and not c.refunded and not c.disputed and c.amount > 1000
    )  # fmt: skip
    first = requests.post(
        f"{srv.url}/v1/refunds",
        data={"charge": charge.id, "amount": 100},
        headers=headers,
        timeout=10,
    )
    assert first.status_code == 200
    again = requests.post(
        f"{srv.url}/v1/refunds",
        data={"charge": charge.id, "amount": 100},
        headers=headers,
        timeout=10,
    )
    assert (
        again.headers.get("Idempotent-Replayed") == "true"
        and again.json()["id"] == first.json()["id"]
    )
    before = control(srv.url, "/_sandbox/clock")["now"]
    moved = control(srv.url, "/_sandbox/clock/advance", {"seconds": str(24 * 3600 + 1)})
    assert moved["now"] >= before + 24 * 3600 + 1 and moved["offset_seconds"] == 24 * 3600 + 1
    later = requests.post(
        f"{srv.url}/v1/refunds",
        data={"charge": charge.id, "amount": 100},
        headers=headers,
        timeout=10,
    )
    assert later.status_code == 200 and "Idempotent-Replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"] and later.json()["created"] >= moved["now"]
    with pytest.raises(Exception, match="400"):
        control(srv.url, "/_sandbox/clock/advance", {"seconds": "-5"})
