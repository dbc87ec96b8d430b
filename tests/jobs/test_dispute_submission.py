"""The sandbox's request log proves submit=true is sent only through an approved action, once,
and never for a dispute that was closed or already submitted; staging sends submit=false."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import Settings
from core.db import make_engine, make_sessionmaker, migrate
from core.disputes.actions import request_accept, request_submission, stage_evidence
from core.disputes.handlers import apply_dispute
from core.disputes.submission import pdf_filename
from core.errors import InvalidTransition, StripeUnavailable
from core.governance import actions
from core.governance import queries as action_queries
from core.governance.executor import execute_action
from core.sync.snapshots import store_fetched
from tests.conftest import settings_for
from tests.support import disputes as f
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


def approve(env: dict[str, Any], action_id: int) -> None:
    for approver in ("approver", "approver2"):  # large amounts need two different approvers
        with env["Session"].begin() as s:
            if action_queries.get_action(s, action_id).status != "requested":
                break
            actions.approve(s, env["team"][approver], action_id, "evidence reviewed")


def approve_and_run(env: dict[str, Any], action_id: int) -> str | None:
    approve(env, action_id)
    return execute_action(env["Session"], env["settings"], action_id)


def action_key(env: dict[str, Any], action_id: int) -> str:
    with env["Session"]() as s:
        return str(action_queries.get_action(s, action_id).idempotency_key)


def packet_files(env: dict[str, Any], dispute_id: str, action_id: int) -> list[dict[str, Any]]:
    """The dispute_evidence files at the sandbox that carry this action's packet PDF."""
    gw: StripeGateway = env["gw"]
    page = gw.list_page("files", {"purpose": "dispute_evidence", "limit": 100})
    name = pdf_filename(dispute_id, action_key(env, action_id))
    return [f for f in page["data"] if f["filename"] == name]


def file_posts(sandbox: Any, idempotency_key: str) -> list[dict[str, Any]]:
    log = requests.get(
        f"{sandbox.url}/_sandbox/requests", params={"limit": 10000}, timeout=10
    ).json()
    return [
        r
        for r in log["requests"]
        if r["method"] == "POST"
        and r["path"] == "/v1/files"
        and r["idempotency_key"] == f"{idempotency_key}-pdf"
    ]


class DroppedAnswer(StripeGateway):
    """The real gateway, except that the connection drops at the first evidence submission,
    after the PDF upload went through: the attempt fails transiently and is retried."""

    dropped: set[str] = set()

    def update_dispute(self, dispute_id: str, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("submit") and dispute_id not in self.dropped:
            self.dropped.add(dispute_id)
            raise StripeUnavailable("Could not reach Stripe: connection reset")
        return super().update_dispute(dispute_id, **kwargs)


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
    [pdf] = packet_files(env, dp, action.id)
    sent = submits(posts)[0]["params"]["evidence"]
    assert sent == staged.evidence | {"uncategorized_file": pdf["id"]}
    assert pdf["purpose"] == "dispute_evidence" and pdf["type"] == "pdf" and pdf["size"] > 1_000

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


@pytest.mark.parametrize("hours_later", [1, 25])
def test_the_packet_pdf_is_uploaded_once_even_when_the_submission_is_retried(
    sandbox: Any, env: dict[str, Any], hours_later: int
) -> None:
    """A retry within Stripe's 24 h key memory, and one after it (the upload is then found by
    its name instead of being replayed): one upload, and the dispute references that file."""
    dp = new_dispute(sandbox, env, "product_not_received")
    with env["Session"].begin() as s:
        action = request_submission(s, env["team"]["operator"], dp)
    approve(env, action.id)
    flaky = execute_action(
        env["Session"],
        env["settings"],
        action.id,
        gateway_factory=lambda settings, account: DroppedAnswer(make_client(settings)),
    )
    assert flaky == "retrying"
    key = action_key(env, action.id)
    assert len(file_posts(sandbox, key)) == 1 and submits(dispute_posts(sandbox, dp)) == []

    later = datetime.now(UTC) + timedelta(hours=hours_later)
    assert execute_action(env["Session"], env["settings"], action.id, now=later) == "succeeded"
    assert len(file_posts(sandbox, key)) == 1  # not uploaded again
    [pdf] = packet_files(env, dp, action.id)
    [submitted] = submits(dispute_posts(sandbox, dp))
    assert submitted["params"]["evidence"]["uncategorized_file"] == pdf["id"]
    dispute = env["gw"].retrieve("disputes", dp)
    assert (
        dispute["status"] == "under_review"
        and dispute["evidence"]["uncategorized_file"] == (pdf["id"])
    )
    with env["Session"]() as s:
        done = action_queries.get_action(s, action.id)
        assert done.result["file"] == pdf["id"] and "earlier attempt" in done.result["summary"]


def test_an_appeal_is_submitted_as_evidence_appeal_with_the_packet_pdf(
    sandbox: Any, env: dict[str, Any]
) -> None:
    """In the appeal stage Stripe takes only evidence[appeal][card]: the summary as the reason
    for filing, the packet PDF as the supporting file; no other evidence field is sent."""
    dp = new_dispute(sandbox, env, "fraudulent")
    due = int(time.time()) + 72 * 3600
    appeal = f.open_appeal(sandbox, dp, due)
    with env["Session"].begin() as s:
        case, _ = apply_dispute(s, appeal, event_created=int(time.time()) + 1)
        assert case.status == "appeal_needs_response" and not case.answered
        action = request_submission(s, env["team"]["operator"], dp)
        summary = action.params["evidence"]["uncategorized_text"]
        assert action.params["stage"] == "appeal" and action.evidence["stage"] == "appeal"
    status = approve_and_run(env, action.id)
    [pdf] = packet_files(env, dp, action.id)
    [sent] = submits(dispute_posts(sandbox, dp))
    assert sent["params"]["evidence"] == {
        "appeal": {"card": {"reason_for_filing": summary, "supporting_files": [pdf["id"]]}}
    }
    assert status == "succeeded"
    assert env["gw"].retrieve("disputes", dp)["status"] == "appeal_under_review"
