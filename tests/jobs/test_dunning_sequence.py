"""Dunning sequences pre-approved by the policy: the approved template goes out on day 0 without
a per-message approval, once per case and step whatever re-runs happen, never after the customer
paid or replied, and never with an AI-rewritten draft. Real components: the sandbox over HTTP
through the real `stripe` client, an SMTP server on loopback (aiosmtpd), SQLite and PostgreSQL,
the OpenAI-compatible stub through the real `openai` client."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from core.adapters.llm import LlmClient
from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import DEFAULT_POLICY_FILE, Settings
from core.errors import PermissionDenied
from core.governance import deliveries
from core.governance.executor import execute_action
from core.governance.policy import load_policy
from core.governance.preapproval import request_pre_approved
from core.imports.crm import CRM
from core.imports.tickets import TICKETS
from core.models.base import utcnow
from core.models.governance import ActionRequest, AuditEntry, OutboxMessage
from core.models.recovery import RecoveryCase
from core.recovery.drafting import render
from core.recovery.drafts import create_draft, draft_facts
from core.recovery.rules import RecoverySettings
from core.recovery.sequences import run_sequences
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from core.sync.snapshots import refresh_requested
from tests.conftest import settings_for
from tests.support.openai_stub import running_openai_stub
from tests.support.receivers import smtp_server
from tests.support.sandbox import SANDBOX_KEY

load_handler_modules()
REWORDED = "It takes just a minute, and your service carries on as before."
SEQUENCE = """
[[recovery.sequences]]
id = "DUN-TEST"
segments = ["smb"]
currency = "usd"
up_to = 10000000
days = [0, 3, 7]
"""


def test_policy(tmp_path: Path) -> Path:
    """The shipped policy without escalation rules (so the case is not escalated) plus a sequence."""
    shipped = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    path = tmp_path / "policy.toml"
    path.write_text(shipped.split("[[recovery.escalation_rules]]")[0] + SEQUENCE, encoding="utf-8")
    return path


test_policy.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def settings(sandbox: Any, db_url: str, tmp_path: Path) -> Settings:
    return settings_for(
        db_url,
        STRIPE_API_KEY=SANDBOX_KEY,
        STRIPE_API_BASE=sandbox.url,
        POLICY_FILE=str(test_policy(tmp_path)),
    )


def simulate(sandbox: Any, kind: str, **params: str) -> dict[str, Any]:
    resp = requests.post(f"{sandbox.url}/_sandbox/simulate/{kind}", data=params, timeout=10)
    resp.raise_for_status()
    return dict(resp.json())


def sync_events(Session: Any, settings: Settings, gw: StripeGateway, ids: list[str]) -> None:
    events = [gw.retrieve("events", e) for e in ids]
    with Session.begin() as s:
        ingest_events(s, sorted(events, key=lambda e: (e["created"], e["id"])))
    process_batch(Session, settings=settings)
    refresh_requested(Session, gw.retrieve, gw.list_page, account="")
    process_batch(Session, now=utcnow() + timedelta(hours=1), settings=settings)


def failed_smb_invoice(Session: Any, settings: Settings, sandbox: Any) -> tuple[str, str]:
    """A failed payment (expired card) of a customer the CRM lists as `smb`: (invoice, email)."""
    gw = StripeGateway(make_client(settings))
    failed = simulate(sandbox, "payment_failed", decline_code="expired_card")
    inv = gw.retrieve("invoices", failed["invoice"])
    email = inv.get("customer_email") or "pat@example.com"
    crm = f"Stripe Customer ID,Email,Account Name,Segment\n{inv['customer']},{email},Pat Co,smb\n"
    with Session.begin() as s:
        assert CRM.run(s, crm.encode()).loaded == 1
    sync_events(Session, settings, gw, failed["events"])
    with Session() as s:
        case = s.scalars(select(RecoveryCase).where(RecoveryCase.invoice_id == inv["id"])).one()
        assert (case.status, case.segment, case.escalated) == ("open", "smb", False)
    return inv["id"], email


def run(Session: Any, settings: Settings, now: Any = None) -> Any:
    policy = load_policy(settings.policy_file)
    cfg = RecoverySettings.from_section(policy.section("recovery"))
    with Session.begin() as s:
        return run_sequences(s, policy, cfg, now=now)


def steps_of(Session: Any, invoice_id: str) -> list[ActionRequest]:
    with Session() as s:
        return list(
            s.scalars(
                select(ActionRequest)
                .where(ActionRequest.target_id == invoice_id)
                .order_by(ActionRequest.id)
            )
        )


def test_day_0_goes_out_once_without_a_click_and_nothing_after_the_payment(
    Session: Any, settings: Settings, sandbox: Any
) -> None:
    invoice_id, email = failed_smb_invoice(Session, settings, sandbox)
    first = run(Session, settings)
    assert [(i, s) for i, s, _ in first.sent] == [(invoice_id, 0)]
    for _ in range(3):  # re-runs (the hourly job, a second scheduler) never make it twice
        assert run(Session, settings).sent == []
    [step0] = steps_of(Session, invoice_id)
    assert (step0.status, step0.required_approvals, step0.rule_id) == ("approved", 0, "DUN-TEST")
    assert step0.dedupe_key == f"dunning:{invoice_id}:step0"
    with Session() as s:
        audited = {
            a.action: a
            for a in s.scalars(select(AuditEntry).where(AuditEntry.target == f"action:{step0.id}"))
        }
        assert audited["action.approved"].actor == "policy:DUN-TEST"
        assert "pre-approved by policy rule DUN-TEST" in json.dumps(
            audited["action.approved"].after
        )
        assert (audited["action.pre_approved"].after or {})["rule_id"] == "DUN-TEST"
    assert execute_action(Session, settings, step0.id) == "succeeded"
    with smtp_server() as (port, received):
        mailing = settings_for(settings.database_url, SMTP_URL=f"smtp://127.0.0.1:{port}")
        assert deliveries.deliver(Session, mailing, timeout=5).counts == {"sent": 1}
        assert deliveries.deliver(Session, mailing, timeout=5).counts == {}
        assert [m["to"] for m in received] == [[email]]
        assert step0.params["subject"] in received[0]["data"]

        # Day 3: the second step is pre-approved and queued, then the customer pays before
        # delivery: the outbox re-check supersedes it and nothing more goes out.
        day3 = utcnow() + timedelta(days=3, hours=1)
        assert [s for _, s, _ in run(Session, settings, now=day3).sent] == [1]
        step1 = steps_of(Session, invoice_id)[1]
        assert execute_action(Session, settings, step1.id) == "succeeded"
        gw = StripeGateway(make_client(settings))
        sync_events(
            Session, settings, gw, simulate(sandbox, "invoice_paid", invoice=invoice_id)["events"]
        )
        assert deliveries.deliver(Session, mailing, timeout=5).counts == {"superseded": 1}
        assert len(received) == 1
        day7 = utcnow() + timedelta(days=7, hours=2)
        assert run(Session, settings, now=day7).sent == []
        assert deliveries.deliver(Session, mailing, timeout=5).counts == {}
        assert len(received) == 1
    assert len(steps_of(Session, invoice_id)) == 2


def test_the_template_goes_out_never_the_ai_rewrite_and_a_reply_stops_it(
    Session: Any, settings: Settings, sandbox: Any
) -> None:
    invoice_id, email = failed_smb_invoice(Session, settings, sandbox)
    policy = load_policy(settings.policy_file)
    cfg = RecoverySettings.from_section(policy.section("recovery"))

    def rewrite(body: dict[str, Any]) -> dict[str, Any]:
        parts = json.loads(body["messages"][1]["content"])["parts"]
        return {"parts": {**parts, "free_closing": REWORDED}}

    with running_openai_stub() as stub:
        stub.replies = [rewrite]
        llm = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        with Session.begin() as s:
            case = s.scalars(
                select(RecoveryCase).where(RecoveryCase.invoice_id == invoice_id)
            ).one()
            ai = create_draft(s, case, "email", cfg, llm=llm, created_by="olga")
            assert ai.model == "gpt-4o-mini" and ai.guard.startswith("ai rewrite passed")
            template = render(case.bucket, "email", case.tone, draft_facts(case, cfg)).body
            assert REWORDED in ai.body and ai.body != template
            ai_body = ai.body
    run(Session, settings)
    [step0] = steps_of(Session, invoice_id)
    assert step0.params["body"] == template != ai_body
    assert step0.evidence["model"] is None and step0.evidence["template"].endswith("@v1")

    # The customer writes to the help desk after the first send: the sequence stops for good.
    when = (utcnow() + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    tickets = f"Ticket ID,Email,Status,Subject,Created\nT-1,{email},open,About my card,{when}\n"
    with Session.begin() as s:
        assert TICKETS.run(s, tickets.encode()).loaded == 1
    later = run(Session, settings, now=utcnow() + timedelta(days=3, hours=1))
    assert later.sent == [] and later.stopped == {"the customer replied": 1}
    assert len(steps_of(Session, invoice_id)) == 1
    with Session() as s:
        assert s.scalar(
            select(AuditEntry.id).where(AuditEntry.action == "recovery.sequence_stopped")
        )


def test_no_rule_no_pre_approval(Session: Any, settings: Settings) -> None:
    """Without a sequence rule of that id (or with the shipped policy: none), nothing is
    pre-approved, and no e-mail or step is made."""
    shipped = load_policy(DEFAULT_POLICY_FILE)
    assert shipped.sequences == ()
    with Session.begin() as s, pytest.raises(PermissionDenied, match="nothing is pre-approved"):
        request_pre_approved(
            s, shipped, "DUN-TEST", target_id="in_x", params={}, reason="x", evidence={},
            dedupe_key="dunning:in_x:step0",
        )  # fmt: skip
    with Session() as s:
        assert s.scalars(select(ActionRequest)).all() == []
        assert s.scalars(select(OutboxMessage)).all() == []
