"""The sandbox's request log proves submit=true is sent only through an approved action, once,
and never for a dispute that was closed or already submitted; staging sends submit=false."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import Settings
from core.db import make_engine, make_sessionmaker, migrate
from core.disputes.actions import request_accept, request_submission, stage_evidence
from core.disputes.handlers import apply_dispute
from core.errors import InvalidTransition
from core.governance import actions
from core.governance import queries as action_queries
from core.governance.executor import execute_action
from core.sync.snapshots import store_fetched
from tests.conftest import settings_for
from tests.support.governance import make_team
from tests.support.sandbox import SANDBOX_KEY


@pytest.fixture
def env(sandbox: Any, sqlite_url: str) -> dict[str, Any]:
    engine = make_engine(sqlite_url)
    migrate(engine)
    settings: Settings = settings_for(
        sqlite_url, STRIPE_API_KEY=SANDBOX_KEY, STRIPE_API_BASE=sandbox.url, LEDGERDESK_SANDBOX="1"
    )
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        team = make_team(s)
    return {
        "Session": Session,
        "settings": settings,
        "gw": StripeGateway(make_client(settings)),
        "team": team,
    }


def new_dispute(sandbox: Any, env: dict[str, Any], reason: str) -> str:
    """A dispute opened at the sandbox and synced into the store (objects read back over HTTP)."""
    made = requests.post(
        f"{sandbox.url}/_sandbox/simulate/dispute_created",
        data={"reason": reason, "due_in_hours": "120"},
        timeout=10,
    ).json()
    gw: StripeGateway = env["gw"]
    dispute = gw.retrieve("disputes", made["dispute"])
    charge = gw.retrieve("charges", made["charge"])
    with env["Session"].begin() as s:
        objs = [charge] + (
            [gw.retrieve("customers", charge["customer"])] if charge.get("customer") else []
        )
        store_fetched(s, objs, account="", fetched_at=int(time.time()))
        apply_dispute(s, dispute, event_created=int(time.time()))
    return str(made["dispute"])


def dispute_posts(sandbox: Any, dispute_id: str) -> list[dict[str, Any]]:
    log = requests.get(
        f"{sandbox.url}/_sandbox/requests", params={"limit": 10000}, timeout=10
    ).json()
    return [
        r
        for r in log["requests"]
        if r["method"] == "POST" and r["path"].startswith(f"/v1/disputes/{dispute_id}")
    ]


def submits(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Stripe's default is submit=true: a POST without submit=false counts as a submission.
    return [
        p
        for p in posts
        if p["path"].endswith(p["path"].split("/")[3]) and p["params"].get("submit") != "false"
    ]


def approve_and_run(env: dict[str, Any], action_id: int) -> str | None:
    for approver in ("approver", "approver2"):  # large amounts need two different approvers
        with env["Session"].begin() as s:
            if action_queries.get_action(s, action_id).status != "requested":
                break
            actions.approve(s, env["team"][approver], action_id, "evidence reviewed")
    return execute_action(env["Session"], env["settings"], action_id)


def test_submit_true_only_after_approval_and_only_once(sandbox: Any, env: dict[str, Any]) -> None:
    dp = new_dispute(sandbox, env, "fraudulent")
    op = env["team"]["operator"]
    with env["Session"].begin() as s:
        staged = stage_evidence(s, op, env["gw"], dp)
    with env["Session"].begin() as s:
        action = request_submission(s, op, dp)
    # Not approved yet: the executor leaves it alone, and nothing but staging reached Stripe.
    assert execute_action(env["Session"], env["settings"], action.id) is None
    posts = dispute_posts(sandbox, dp)
    assert [p["params"]["submit"] for p in posts] == ["false"] and submits(posts) == []
    assert posts[0]["params"]["evidence"]["customer_name"] == staged.evidence["customer_name"]

    assert approve_and_run(env, action.id) == "succeeded"
    posts = dispute_posts(sandbox, dp)
    assert len(submits(posts)) == 1 and submits(posts)[0]["params"]["submit"] == "true"
    assert submits(posts)[0]["params"]["evidence"] == staged.evidence

    # A second (stale) submission request for the now-submitted dispute is superseded.
    with env["Session"].begin() as s:
        again = actions.request_action(
            s,
            op,
            action_type="submit_dispute_evidence",
            target_id=dp,
            params={"dispute": dp, "evidence": staged.evidence},
            reason="resend",
            evidence={"amount": 1, "currency": "usd"},
        )
    assert approve_and_run(env, again.id) == "superseded"
    assert len(submits(dispute_posts(sandbox, dp))) == 1
    # And staging a submitted dispute is refused before any call.
    with env["Session"].begin() as s, pytest.raises(InvalidTransition):
        stage_evidence(s, op, env["gw"], dp)
    assert len(dispute_posts(sandbox, dp)) == 2


def test_no_submission_for_a_dispute_accepted_meanwhile(sandbox: Any, env: dict[str, Any]) -> None:
    dp = new_dispute(sandbox, env, "product_not_received")
    op = env["team"]["operator"]
    with env["Session"].begin() as s:
        submission = request_submission(s, op, dp)
        accept = request_accept(s, op, dp, "not worth fighting")
    assert approve_and_run(env, accept.id) == "succeeded"  # POST /close
    assert approve_and_run(env, submission.id) == "superseded"
    posts = dispute_posts(sandbox, dp)
    assert [p["path"] for p in posts] == [f"/v1/disputes/{dp}/close"]
    assert submits(posts) == []


def test_dispute_events_from_the_sandbox_become_cases_via_the_queue(
    sandbox: Any, env: dict[str, Any]
) -> None:
    from sqlalchemy import select

    from core.models.disputes import DisputeCase
    from core.models.governance import ActionRequest
    from core.sync.ingest import ingest_events
    from core.sync.processing import load_handler_modules, process_batch

    gw: StripeGateway = env["gw"]
    events: list[dict[str, Any]] = []
    for kind in ("charge.dispute.*", "radar.early_fraud_warning.*", "charge.*"):
        after = None
        while True:
            page = gw.list_page(
                "events",
                {"limit": 100, "type": kind, **({"starting_after": after} if after else {})},
            )
            events += page["data"]
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
    events.sort(key=lambda e: e["created"])
    with env["Session"].begin() as s:
        ingest_events(s, events)
    load_handler_modules()
    process_batch(env["Session"], limit=100_000)
    process_batch(env["Session"], limit=100_000)  # a replay changes nothing
    disputes = {
        e["data"]["object"]["id"] for e in events if e["type"].startswith("charge.dispute.")
    }
    with env["Session"]() as s:
        cases = list(s.scalars(select(DisputeCase)))
        assert {c.dispute_id for c in cases} >= disputes
        closed = [c for c in cases if c.outcome]
        assert closed and all(c.closed_at for c in closed)
        for c in closed:  # chargebacks withdraw amount + fee; a win reinstates both
            if c.case_type == "chargeback":
                assert (c.amount_withdrawn, c.fee) == (c.amount, 1500)
                won = c.outcome == "won"
                assert (c.amount_reinstated, c.fee_reinstated) == (
                    (c.amount, 1500) if won else (0, 0)
                )
        refunds = s.scalars(
            select(ActionRequest).where(ActionRequest.rule_id == "disputes.efw_refund.v1")
        ).all()
        assert len({r.dedupe_key for r in refunds}) == len(refunds)
