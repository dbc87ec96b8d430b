"""Every request the product sends to Stripe is one stripe-python's params types accept.

The product runs for real against the sandbox through its own Stripe client: a first sync
(backfill plus events) on the platform and a connected account, the books refresh, dispute
evidence staging, and the executor on approved refund, credit, evidence, accept, cancel and
retry actions. The sandbox's request log is then matched, request by request, to the SDK
operation for its method and path and checked against that operation's params TypedDict:
unknown parameters, missing required ones, enum values and documented length limits.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.disputes.actions import stage_evidence
from core.disputes.handlers import apply_dispute
from core.governance import actions
from core.governance import queries as action_queries
from core.governance.executor import run_pending
from core.sync.snapshots import store_fetched
from jobs.books import refresh
from jobs.runtime import open_runtime
from jobs.sync import sync_all
from tests.conftest import settings_for
from tests.support import stripe_contract as contract
from tests.support.governance import make_refund_request, make_team
from tests.support.sandbox import SANDBOX_KEY, running_sandbox

# What a run must have exercised for its verdict to mean anything.
COVERED = {
    "GET /v1/events",
    "GET /v1/invoices",
    "GET /v1/charges",
    "GET /v1/disputes",
    "GET /v1/payouts",
    "GET /v1/balance_transactions",
    "GET /v1/disputes/{dispute}",
    "POST /v1/refunds",
    "POST /v1/disputes/{dispute}",
    "POST /v1/disputes/{dispute}/close",
    "POST /v1/customers/{customer}/balance_transactions",
    "DELETE /v1/subscriptions/{subscription_exposed_id}",
    "POST /v1/invoices/{invoice}/pay",
}


def _simulate(url: str, kind: str, **params: str) -> dict[str, Any]:
    resp = requests.post(f"{url}/_sandbox/simulate/{kind}", data=params, timeout=10)
    resp.raise_for_status()
    return resp.json()


def _approve(Session: Any, team: dict[str, Any], action_id: int) -> None:
    for approver in ("approver", "approver2"):  # large amounts need two approvers
        with Session.begin() as s:
            if action_queries.get_action(s, action_id).status != "requested":
                return
            actions.approve(s, team[approver], action_id, "checked")


def _request(Session: Any, team: dict[str, Any], kind: str, target: str, **params: Any) -> int:
    with Session.begin() as s:
        action = actions.request_action(
            s,
            team["operator"],
            action_type=kind,
            target_id=target,
            params=params,
            reason="contract run",
            evidence={"amount": 1000, "currency": "usd"},
        )
        action_id = int(action.id)
    _approve(Session, team, action_id)
    return action_id


def _drive_actions(url: str, rt: Any) -> dict[str, str]:
    Session, settings = rt.Session, rt.settings
    gw = StripeGateway(make_client(settings))
    with Session.begin() as s:
        team = make_team(s)
    charges = [
        c
        for c in gw.list_page("charges", {"limit": 100})["data"]
        if c["status"] == "succeeded" and not c["refunded"] and not c["disputed"]
    ]
    with Session.begin() as s:
        refund = make_refund_request(s, team["operator"], charges[0]["id"], amount=300)
        refund_id = int(refund.id)
    _approve(Session, team, refund_id)
    ids = {"refund": refund_id}
    ids["credit"] = _request(
        Session, team, "customer_credit", charges[1]["customer"],
        customer=charges[1]["customer"], amount=700, currency="usd", description="Goodwill",
    )  # fmt: skip
    staged = _simulate(url, "dispute_created", reason="product_not_received", due_in_hours="96")
    dispute = gw.retrieve("disputes", staged["dispute"])
    charge = gw.retrieve("charges", staged["charge"])
    with Session.begin() as s:
        objs = [charge] + (
            [gw.retrieve("customers", charge["customer"])] if charge["customer"] else []
        )
        store_fetched(s, objs, account="", fetched_at=int(time.time()))
        apply_dispute(s, dispute, event_created=int(time.time()))
    with Session.begin() as s:
        packet = stage_evidence(s, team["operator"], gw, dispute["id"])
    ids["evidence"] = _request(
        Session, team, "submit_dispute_evidence", dispute["id"],
        dispute=dispute["id"], evidence=packet.evidence,
    )  # fmt: skip
    accept = _simulate(url, "dispute_created", reason="duplicate")["dispute"]
    ids["accept"] = _request(Session, team, "accept_dispute", accept, dispute=accept)
    subs = gw.list_page("subscriptions", {"limit": 10, "status": "active"})["data"]
    ids["cancel"] = _request(
        Session, team, "cancel_subscription", subs[0]["id"], subscription=subs[0]["id"]
    )
    failed = _simulate(url, "payment_failed", decline_code="insufficient_funds")["invoice"]
    ids["retry"] = _request(Session, team, "retry_invoice_payment", failed, invoice=failed)
    run_pending(Session, settings)
    with Session() as s:
        return {k: action_queries.get_action(s, v).status for k, v in ids.items()}


@pytest.fixture(scope="module")
def product_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The sandbox's request log after the product's jobs and executor ran against it."""
    folder: Path = tmp_path_factory.mktemp("contract-run")
    with running_sandbox(connected_accounts=1) as server:
        connected = requests.get(f"{server.url}/_sandbox/accounts", timeout=10).json()
        settings = settings_for(
            f"sqlite:///{folder / 'ledgerdesk.db'}",
            folder,
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=server.url,
            LEDGERDESK_SANDBOX="1",
            STRIPE_RATE_LIMIT="500",
            STRIPE_ACCOUNTS=",".join(connected["connected"]),
        )
        rt = open_runtime(settings)
        reports = sync_all(rt)
        assert all(r.ok for r in reports), [r.summary() for r in reports]
        refresh(rt)
        outcomes = _drive_actions(server.url, rt)
        log: list[dict[str, Any]] = []
        since = 0
        while True:
            page = requests.get(
                f"{server.url}/_sandbox/requests",
                params={"since": since, "limit": 10000},
                timeout=30,
            ).json()
            log += page["requests"]
            if page["next_since"] >= page["latest"]:
                break
            since = page["next_since"]
        yield {"log": log, "outcomes": outcomes}


def test_the_run_exercised_reads_and_every_write(product_run: dict[str, Any]) -> None:
    assert set(product_run["outcomes"].values()) <= {"succeeded", "failed"}, product_run["outcomes"]
    seen = set()
    for entry in product_run["log"]:
        op = contract.operation_for(entry["method"], entry["path"])
        if op is not None:
            seen.add(f"{op.method} {op.template}")
    assert COVERED <= seen, sorted(COVERED - seen)


def test_every_request_the_product_sent_is_accepted_by_the_sdk_types(
    product_run: dict[str, Any],
) -> None:
    problems: Counter[str] = Counter()
    checked = 0
    for entry in product_run["log"]:
        if "params" not in entry:
            continue
        checked += 1
        problems.update(contract.check_request(entry["method"], entry["path"], entry["params"]))
    assert checked > 50
    assert not problems, "\n".join(f"{n:5d}  {p}" for p, n in problems.most_common(40))


def test_the_checker_catches_a_bad_request() -> None:
    """Deliberately wrong requests fail, so a green run means something."""
    assert contract.check_request("POST", "/v1/refunds", {"charge": "ch_1", "reasons": "x"}) == [
        "POST /v1/refunds[reasons]: unknown parameter"
    ]
    assert contract.check_request("POST", "/v1/refunds", {"charge": "ch_1", "reason": "angry"})
    long_text = {"evidence": {"uncategorized_text": "x" * 20_001}, "submit": "false"}
    [problem] = contract.check_request("POST", "/v1/disputes/dp_1", long_text)
    assert "over the documented limit of 20000" in problem
    total = {f: "y" * 19_000 for f in ("access_activity_log", "product_description",
             "uncategorized_text", "cancellation_rebuttal", "refund_refusal_explanation",
             "duplicate_charge_explanation", "refund_policy_disclosure",
             "cancellation_policy_disclosure")}  # fmt: skip
    [problem] = contract.check_request("POST", "/v1/disputes/dp_1", {"evidence": total})
    assert "combined limit of 150000" in problem
    assert contract.check_request("GET", "/v1/events", {"limit": "ten"})
    assert contract.check_request(
        "POST", "/v1/customers/cus_1/balance_transactions", {"amount": "1"}
    )
    assert contract.check_request("GET", "/v1/nonsense", {}) == [
        "GET /v1/nonsense: no such operation in the SDK"
    ]
