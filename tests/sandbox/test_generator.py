"""The generated account: deterministic, realistic, and its CSV exports match the reported truth."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from pathlib import Path

import pytest
import stripe

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sandbox.state import SandboxState
from tests.sandbox.conftest import control, make_client

FIXED_NOW = 1_790_000_000.0


def _state(seed: int, **kw: object) -> SandboxState:
    return SandboxState(
        SandboxConfig(seed=seed, customers=60, days=90, now=lambda: FIXED_NOW, **kw)
    )  # type: ignore[arg-type]


def test_same_seed_same_data() -> None:
    one, two, other = _state(5), _state(5), _state(6)
    ids = [e["id"] for e in one.platform.iter_type("event")]
    assert ids == [e["id"] for e in two.platform.iter_type("event")]
    assert one.platform.objects == two.platform.objects
    truth_one = {k: v for k, v in one.truth.items() if k != "generated_at"}
    assert truth_one == {k: v for k, v in two.truth.items() if k != "generated_at"}
    assert set(ids).isdisjoint(e["id"] for e in other.platform.iter_type("event"))


def test_realistic_mix() -> None:
    acct = _state(9, connected_accounts=0).platform
    customers = list(acct.iter_type("customer"))
    assert {c["metadata"]["segment"] for c in customers} == {
        "self_serve",
        "mid_market",
        "enterprise",
    } or {c["metadata"]["segment"] for c in customers} >= {"self_serve", "mid_market"}
    statuses = Counter(s["status"] for s in acct.iter_type("subscription"))
    assert statuses["active"] and (statuses["canceled"] or statuses["past_due"])
    failed = [c for c in acct.iter_type("charge") if c["status"] == "failed"]
    assert failed and all(c["outcome"]["type"] in ("issuer_declined", "blocked") for c in failed)
    assert any(c["outcome"]["advice_code"] for c in failed)
    assert any(c["outcome"]["network_decline_code"] for c in failed)
    pis = [p for p in acct.iter_type("payment_intent") if p["last_payment_error"]]
    assert pis and all(p["last_payment_error"]["type"] == "card_error" for p in pis)
    invoices = list(acct.iter_type("invoice"))
    assert any(i["total_taxes"] for i in invoices) and all(
        i["hosted_invoice_url"] for i in invoices
    )
    disputes = list(acct.iter_type("dispute"))
    now = int(FIXED_NOW)
    open_due = [
        d["evidence_details"]["due_by"] - now
        for d in disputes
        if d["status"].endswith("needs_response")
    ]
    assert open_due and min(open_due) > 0 and max(open_due) <= 21 * 86400
    assert len({d["reason"] for d in disputes}) >= 2
    payouts = list(acct.iter_type("payout"))
    assert sum(p["automatic"] for p in payouts) >= 30 and any(not p["automatic"] for p in payouts)
    assert any(p["status"] == "failed" for p in payouts)
    bts = Counter(b["reporting_category"] for b in acct.iter_type("balance_transaction"))
    assert bts["charge"] and bts["payout"] and bts["dispute"] and bts["refund"]


def test_decline_mix_at_scale() -> None:
    acct = SandboxState(
        SandboxConfig(seed=1, customers=1500, days=60, now=lambda: FIXED_NOW)
    ).platform
    codes = Counter(
        c["failure_code"] if c["failure_code"] != "card_declined" else c["outcome"]["reason"]
        for c in acct.iter_type("charge")
        if c["status"] == "failed"
    )
    assert codes.most_common(1)[0][0] == "insufficient_funds"
    assert {"generic_decline", "do_not_honor", "expired_card", "authentication_required"} <= set(
        codes
    )
    actions = [e for e in acct.iter_type("event") if e["type"] == "invoice.payment_action_required"]
    assert actions and actions[-1]["data"]["object"]["object"] == "invoice"


def test_exports_match_truth(tmp_path: Path) -> None:
    state = _state(4, exports_dir=str(tmp_path))
    truth = json.loads((tmp_path / "mismatches.json").read_text())
    assert truth["counts"] == {k: len(v) for k, v in truth["details"].items()}
    assert all(n > 0 for n in truth["counts"].values())
    rows = {name: list(csv.DictReader(open(tmp_path / name))) for name in truth["rows"]}
    assert {k: len(v) for k, v in rows.items()} == truth["rows"]
    acct = state.platform
    subs = {s["customer"]: s for s in acct.iter_type("subscription")}
    crm = {r["stripe_customer_id"]: r for r in rows["crm_accounts.csv"]}
    assert set(subs) - set(crm) == set(truth["details"]["crm_missing_customer"])
    assert {cid for cid, r in crm.items() if not r["owner"]} == set(
        truth["details"]["crm_no_owner"]
    )
    off = set()
    for cid, row in crm.items():
        sub = subs[cid]
        item = sub["items"]["data"][0]
        per_month = 12 if item["price"]["recurring"]["interval"] == "year" else 1
        true_mrr = (
            item["price"]["unit_amount"] * item["quantity"] // per_month
            if sub["status"] in ("active", "trialing", "past_due")
            else 0
        )
        if (
            abs(round(float(row["mrr"]) * 100) - true_mrr)
            > true_mrr * truth["mrr_tolerance_pct"] / 100
        ):
            off.add(cid)
    assert off == set(truth["details"]["crm_mrr_mismatch"])
    wrong = {
        r["stripe_customer_id"]
        for r in rows["entitlements.csv"]
        if (r["access"] == "active")
        != (subs[r["stripe_customer_id"]]["status"] in ("active", "trialing", "past_due"))
    }
    expected = set(truth["details"]["entitlement_active_but_canceled"]) | set(
        truth["details"]["entitlement_revoked_but_paid"]
    )
    assert wrong == expected
    paid = {p["trace_id"]["value"]: p for p in acct.iter_type("payout") if p["status"] == "paid"}
    in_bank = Counter(r["reference"] for r in rows["bank_statement.csv"])
    missing = {p["id"] for t, p in paid.items() if t not in in_bank}
    assert missing == set(truth["details"]["bank_payout_missing"])
    split = {paid[t]["id"] for t, n in in_bank.items() if n > 1}
    assert split == set(truth["details"]["bank_split_deposit"])
    assert state.truth["counts"] == truth["counts"]


def test_simulate_endpoints_drive_scenarios() -> None:
    with SandboxServer(SandboxConfig(port=0, seed=2, customers=15, days=40)) as srv:
        client = make_client(srv.url)
        failed = control(
            srv.url, "/_sandbox/simulate/payment_failed", {"decline_code": "expired_card"}
        )
        assert failed["status"] == "failed"
        types = [client.v1.events.retrieve(e).type for e in failed["events"]]
        assert "invoice.payment_failed" in types and "charge.failed" in types
        charge = client.v1.charges.retrieve(failed["charge"])
        assert (
            charge.failure_code == "expired_card"
            and charge.outcome.advice_code == "confirm_card_data"
        )
        paid = control(srv.url, "/_sandbox/simulate/invoice_paid", {"invoice": failed["invoice"]})
        assert client.v1.invoices.retrieve(paid["invoice"]).status == "paid"
        dispute = control(
            srv.url,
            "/_sandbox/simulate/dispute_created",
            {"reason": "product_not_received", "due_in_hours": "5"},
        )
        dp = client.v1.disputes.retrieve(dispute["dispute"])
        assert (
            dp.reason == "product_not_received"
            and 0 < dp.evidence_details.due_by - time.time() <= 5 * 3600 + 60
        )
        assert control(srv.url, "/_sandbox/simulate/early_fraud_warning", {})[
            "early_fraud_warning"
        ].startswith("issfr_")
        assert "payout" in control(srv.url, "/_sandbox/simulate/payout", {})
        canceled = control(srv.url, "/_sandbox/simulate/subscription_canceled", {})
        assert client.v1.subscriptions.retrieve(canceled["subscription"]).status == "canceled"
        assert control(srv.url, "/_sandbox/simulate/tick", {})["events"]
        with pytest.raises(Exception):  # noqa: B017 - urllib's HTTPError, any non-2xx
            control(srv.url, "/_sandbox/simulate/earthquake", {})


def test_live_mode_keeps_producing_events() -> None:
    with SandboxServer(
        SandboxConfig(port=0, seed=3, customers=10, days=40, live=True, live_interval=0.05)
    ) as srv:
        client = make_client(srv.url)
        newest = client.v1.events.list({"limit": 1}).data[0].id
        deadline = time.monotonic() + 20
        fresh: list[stripe.Event] = []
        while not fresh and time.monotonic() < deadline:
            time.sleep(0.1)
            fresh = client.v1.events.list({"ending_before": newest, "limit": 10}).data
        assert fresh, "live mode produced no new events"
