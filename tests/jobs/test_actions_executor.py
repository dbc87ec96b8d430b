"""The executor against the sandbox over HTTP: prechecks, supersede, failures, crash and
concurrency safety (exactly one refund, proven by the sandbox's own counters)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import CRASH_ENV, Secret, Settings
from core.db import make_engine, make_sessionmaker
from core.errors import CoreError
from core.governance import actions, audit
from core.governance import queries as action_queries
from core.governance.actions import request_action
from core.governance.executor import (
    METADATA_IDEMPOTENCY,
    METADATA_KEY,
    claim,
    execute_action,
    run_now,
    run_pending,
)
from tests.conftest import settings_for
from tests.support.governance import make_refund_request, make_team
from tests.support.sandbox import SANDBOX_KEY

ROOT = Path(__file__).resolve().parents[2]


def stats(sandbox: Any) -> dict[str, Any]:
    return requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()


def simulate(sandbox: Any, kind: str, **params: str) -> dict[str, Any]:
    resp = requests.post(f"{sandbox.url}/_sandbox/simulate/{kind}", data=params, timeout=10)
    resp.raise_for_status()
    return resp.json()


@pytest.fixture
def settings(sandbox: Any, db_url: str) -> Settings:
    return settings_for(
        db_url,
        STRIPE_API_KEY=SANDBOX_KEY,
        STRIPE_API_BASE=sandbox.url,
        LEDGERDESK_SANDBOX="1",
    )


@pytest.fixture
def gw(settings: Settings) -> StripeGateway:
    return StripeGateway(make_client(settings))


@pytest.fixture
def team(Session: Any) -> dict[str, Any]:
    with Session.begin() as s:
        return make_team(s)


_taken: set[str] = set()


def fresh_charge(gw: StripeGateway) -> dict[str, Any]:
    """A successful, undisputed charge with no refund (not even a failed one) no other test in
    this module used."""
    after = None
    while True:
        page = gw.list_page(
            "charges", {"limit": 100, **({"starting_after": after} if after else {})}
        )
        for c in page["data"]:
            if (
                c["status"] == "succeeded"
                and not c["refunded"]
                and not c["disputed"]
                and c["amount_refunded"] == 0
                and c["id"] not in _taken
                and c["amount"] > 1000
                # a refund that failed leaves amount_refunded at 0 but stays in the list
                and not gw.list_refunds(charge=c["id"])
            ):
                _taken.add(c["id"])
                return c
        if not page["has_more"]:
            raise AssertionError("the sandbox has no fresh charge left")
        after = page["data"][-1]["id"]


def approved_refund(
    Session: Any,
    team: dict[str, Any],
    charge: dict[str, Any],
    amount: int | None = None,
) -> int:
    with Session.begin() as s:
        action = make_refund_request(
            s, team["operator"], charge["id"], amount=amount or charge["amount"] // 2
        )
    with Session.begin() as s:
        actions.approve(s, team["approver"], action.id, "checked the order")
    return action.id


def refunds_of(gw: StripeGateway, charge_id: str) -> list[dict[str, Any]]:
    return gw.list_refunds(charge=charge_id)


def test_an_approved_refund_is_executed_once_and_recorded(
    Session: Any, settings: Settings, gw: StripeGateway, team: dict[str, Any]
) -> None:
    charge = fresh_charge(gw)
    action_id = approved_refund(Session, team, charge, amount=500)
    report = run_pending(Session, settings)
    assert report.count("succeeded") == 1, report.outcomes
    assert run_pending(Session, settings).outcomes == []  # nothing left to do
    with Session() as s:
        action = action_queries.get_action(s, action_id)
        assert action.status == "succeeded" and (action.idempotency_key or "").startswith(
            f"ld-action-{action_id}-"
        )
        assert action.result and action.result["refund"].startswith("re_")
        assert audit.verify(s).ok
    [refund] = refunds_of(gw, charge["id"])
    assert refund["amount"] == 500 and refund["metadata"][METADATA_KEY] == str(action_id)
    assert refund["metadata"][METADATA_IDEMPOTENCY] == action.idempotency_key


def test_refund_of_an_already_refunded_charge_is_superseded(
    Session: Any, settings: Settings, gw: StripeGateway, team: dict[str, Any]
) -> None:
    charge = fresh_charge(gw)
    action_id = approved_refund(Session, team, charge)
    gw.create_refund(
        charge=charge["id"], idempotency_key=f"manual-{charge['id']}"
    )  # someone refunds in Stripe
    assert execute_action(Session, settings, action_id) == "superseded"
    with Session() as s:
        note = action_queries.get_action(s, action_id).outcome_note or ""
    assert "already fully refunded" in note
    assert len(refunds_of(gw, charge["id"])) == 1


def test_message_for_an_invoice_paid_meanwhile_is_superseded(
    Session: Any, settings: Settings, sandbox: Any, team: dict[str, Any]
) -> None:
    failed = simulate(sandbox, "payment_failed")
    invoice_id = failed["invoice"]
    with Session.begin() as s:
        action = actions.request_action(
            s,
            team["operator"],
            action_type="send_message",
            target_id=invoice_id,
            params={
                "to": "pat@example.com",
                "subject": "Your payment failed",
                "body": "Please update your card.",
            },
            reason="first reminder",
            rule_id="recovery.reminder.1",
        )
    with Session.begin() as s:
        actions.approve(s, team["approver"], action.id, "template is right")
    simulate(sandbox, "invoice_paid", invoice=invoice_id)
    assert execute_action(Session, settings, action.id) == "superseded"
    with Session() as s:
        assert "paid" in (action_queries.get_action(s, action.id).outcome_note or "")


def test_evidence_for_a_dispute_closed_meanwhile_is_superseded(
    Session: Any,
    settings: Settings,
    sandbox: Any,
    gw: StripeGateway,
    team: dict[str, Any],
) -> None:
    dispute_id = simulate(sandbox, "dispute_created", reason="fraudulent")["dispute"]
    with Session.begin() as s:
        action = actions.request_action(
            s,
            team["operator"],
            action_type="submit_dispute_evidence",
            target_id=dispute_id,
            params={
                "dispute": dispute_id,
                "evidence": {"uncategorized_text": "Signed delivery receipt."},
            },
            reason="strong evidence",
            evidence={"amount": 1000, "currency": "usd"},
        )
    with Session.begin() as s:
        actions.approve(s, team["approver"], action.id, "evidence complete")
    gw.close_dispute(dispute_id, idempotency_key=f"manual-close-{dispute_id}")
    assert execute_action(Session, settings, action.id) == "superseded"
    with Session() as s:
        assert "no longer awaiting" in (action_queries.get_action(s, action.id).outcome_note or "")


def test_a_refused_refund_fails_and_keeps_the_error(
    Session: Any, settings: Settings, gw: StripeGateway, team: dict[str, Any]
) -> None:
    with Session.begin() as s:
        action = make_refund_request(s, team["operator"], "ch_does_not_exist", amount=100)
    with Session.begin() as s:
        actions.approve(s, team["approver"], action.id, "ok")
    assert execute_action(Session, settings, action.id) == "failed"
    with Session() as s:
        got = action_queries.get_action(s, action.id)
        assert got.status == "failed" and "ch_does_not_exist" in (got.last_error or "")
        assert got.result and got.result["http_status"] == 404


def test_a_crash_after_the_stripe_call_never_refunds_twice(
    Session: Any,
    settings: Settings,
    sandbox: Any,
    gw: StripeGateway,
    team: dict[str, Any],
    db_url: str,
) -> None:
    charge = fresh_charge(gw)
    action_id = approved_refund(Session, team, charge, amount=700)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "STRIPE_API_KEY": SANDBOX_KEY,
        "STRIPE_API_BASE": sandbox.url,
        "LEDGERDESK_SANDBOX": "1",
        "LEDGERDESK_DATA_DIR": str(settings.data_dir),
        CRASH_ENV: "1",
    }
    crashed = subprocess.run(
        [sys.executable, "-m", "jobs", "execute", "--once"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 70, crashed.stderr[-2000:]
    with Session() as s:
        assert (
            action_queries.get_action(s, action_id).status == "executing"
        )  # the result never committed
    assert len(refunds_of(gw, charge["id"])) == 1  # ...but Stripe did refund
    replays = stats(sandbox)["idempotent_replays"]

    env.pop(CRASH_ENV)
    rerun = subprocess.run(
        [sys.executable, "-m", "jobs", "execute", "--once", "--lease-seconds", "0"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "1 succeeded" in rerun.stdout
    assert (
        stats(sandbox)["idempotent_replays"] == replays + 1
    )  # Stripe replayed, did not refund again
    [refund] = refunds_of(gw, charge["id"])
    assert refund["amount"] == 700
    assert gw.retrieve("charges", charge["id"])["amount_refunded"] == 700
    with Session() as s:
        action = action_queries.get_action(s, action_id)
        assert (
            action.status == "succeeded"
            and action.attempts == 2
            and action.result["refund"] == refund["id"]
        )


def test_100_concurrent_approve_and_run_now_clicks_execute_once(
    Session: Any, settings: Settings, gw: StripeGateway, team: dict[str, Any]
) -> None:
    charge = fresh_charge(gw)
    with Session.begin() as s:
        action = make_refund_request(s, team["operator"], charge["id"], amount=300)
    barrier = threading.Barrier(100)
    statuses: list[str | None] = []
    lock = threading.Lock()

    def click(i: int) -> None:
        approver = team["approver"] if i % 2 else team["approver2"]
        barrier.wait()
        try:
            with Session.begin() as s:
                actions.approve(s, approver, action.id, f"click {i}")
        except CoreError:
            pass
        status = run_now(Session, settings, approver, action.id)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count("succeeded") == 1 and statuses.count(None) == 99
    assert len(refunds_of(gw, charge["id"])) == 1
    with Session() as s:
        assert action_queries.get_action(s, action.id).status == "succeeded"


def _big_charge(gw: StripeGateway, above: int) -> dict[str, Any]:
    while True:
        charge = fresh_charge(gw)
        if charge["amount"] > above and charge["currency"] == "usd":
            return charge


def test_a_refund_without_an_amount_counts_as_the_whole_charge(
    Session: Any, settings: Settings, gw: StripeGateway, team: dict[str, Any]
) -> None:
    # The shipped policy lets one approver refund up to $500.00; the request names no amount.
    charge = _big_charge(gw, 50_000)
    with Session.begin() as s:
        action = request_action(
            s,
            team["operator"],
            action_type="refund",
            target_id=charge["id"],
            params={"charge": charge["id"]},  # no amount: a full refund
            reason="customer asked for a refund",
        )
        assert action.required_approvals == 1
        action_id = action.id
    with Session.begin() as s:
        assert actions.approve(s, team["approver"], action_id, "ok").status == "approved"
    assert run_pending(Session, settings).count("superseded") == 1
    with Session() as s:
        done = action_queries.get_action(s, action_id)
        assert done.status == "superseded" and "two approvers" in (
            done.last_error or str(done.result)
        )
    assert refunds_of(gw, charge["id"]) == []  # nothing moved


def test_a_refund_in_another_currency_than_the_charge_is_refused(
    Session: Any, settings: Settings, gw: StripeGateway, team: dict[str, Any]
) -> None:
    charge = _big_charge(gw, 1_000)
    with Session.begin() as s:
        action = make_refund_request(s, team["operator"], charge["id"], amount=900)
        action.params = {**action.params, "currency": "jpy"}
        action_id = action.id
    with Session.begin() as s:
        actions.approve(s, team["approver"], action_id, "ok")
    assert run_pending(Session, settings).count("superseded") == 1
    with Session() as s:
        done = action_queries.get_action(s, action_id)
        assert "JPY" in str(done.result) and "USD" in str(done.result)
    assert refunds_of(gw, charge["id"]) == []


def test_a_read_only_key_returns_the_action_without_spending_the_approval(
    Session: Any, settings: Settings, gw: StripeGateway, team: dict[str, Any], db_url: str
) -> None:
    charge = fresh_charge(gw)
    action_id = approved_refund(Session, team, charge, amount=400)
    read_only = dataclasses.replace(settings, stripe_api_key=Secret("rk_test_readonly"))
    report = run_pending(Session, read_only)
    assert report.outcomes and report.outcomes[0][1] == "returned", report.outcomes
    with Session() as s:
        action = action_queries.get_action(s, action_id)
        assert action.status == "approved" and "rk_" in (action.last_error or "")
        assert len(action_queries.approvals_of(s, action_id)) == 1  # the approval stands
    assert refunds_of(gw, charge["id"]) == []
    assert run_pending(Session, read_only).outcomes == []  # paused, not hammering Stripe
    # Once the key is fixed, "Run now" carries it out with the same approval.
    assert run_now(Session, settings, team["operator"], action_id) == "succeeded"
    assert [r["amount"] for r in refunds_of(gw, charge["id"])] == [400]


def test_accepting_a_dispute_needs_the_approvers_for_its_amount_in_stripe(
    Session: Any, settings: Settings, sandbox: Any, gw: StripeGateway, team: dict[str, Any]
) -> None:
    # The shipped policy: accepting a dispute above $1,000.00 needs two approvers. The request
    # says $10.00; Stripe says what the dispute is worth.
    charge = _big_charge(gw, 100_000)
    dispute_id = simulate(sandbox, "dispute_created", charge=charge["id"])["dispute"]
    assert gw.retrieve("disputes", dispute_id)["amount"] > 100_000
    with Session.begin() as s:
        action = request_action(
            s,
            team["operator"],
            action_type="accept_dispute",
            target_id=dispute_id,
            params={"dispute": dispute_id},
            reason="not worth fighting",
            evidence={"amount": 1000, "currency": "usd"},
        )
        assert action.required_approvals == 1
        action_id = action.id
    with Session.begin() as s:
        assert actions.approve(s, team["approver"], action_id, "ok").status == "approved"
    assert execute_action(Session, settings, action_id) == "superseded"
    with Session() as s:
        assert "two approvers" in (action_queries.get_action(s, action_id).outcome_note or "")
    assert gw.retrieve("disputes", dispute_id)["status"] == "needs_response"  # not accepted


def test_while_one_runner_holds_an_action_racing_runners_never_run_it(
    Session: Any, settings: Settings, gw: StripeGateway, team: dict[str, Any], db_url: str
) -> None:
    """The lease, on SQLite as on PostgreSQL: a runner has claimed the action and is mid-call;
    eight other processes (each its own engine and connections) try to run it at the same
    instant. None may: the claim is the only thing standing between them and a second call."""
    charge = fresh_charge(gw)
    action_id = approved_refund(Session, team, charge, amount=250)
    assert claim(Session, action_id)  # the first runner holds it now
    barrier = threading.Barrier(8)
    outcomes: list[str | None] = []
    lock = threading.Lock()

    def racer() -> None:
        engine = make_engine(db_url)
        try:
            own = make_sessionmaker(engine, settings.audit_key)
            barrier.wait()
            got = execute_action(own, settings, action_id)
        finally:
            engine.dispose()
        with lock:
            outcomes.append(got)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == [None] * 8
    assert refunds_of(gw, charge["id"]) == []  # nobody called Stripe behind the holder's back
    with Session() as s:
        assert action_queries.get_action(s, action_id).status == "executing"
