"""The desk assistant through the real `openai` client and a scripted model on loopback.

It answers the three example questions with the right records, proposes an action that then waits
for approval (nothing executes), refuses in core what a role may not do or a tool does not exist,
stops at the day's budget and within a bounded number of rounds, and writes every session and
tool call to the audit log.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.adapters.ai_usage import allowance
from core.adapters.llm import LlmClient
from core.config import Settings
from core.errors import PermissionDenied
from core.governance.audit_text import describe
from core.governance.executor import run_pending
from core.models.ai import AiUsage
from core.models.governance import ActionRequest, AuditEntry
from core.reports.assistant.conversation import SYSTEM_PROMPT, AssistantReply, ask
from tests.conftest import settings_for
from tests.support.assistant import NOW, last_tool_result, seed_desk, tool_call
from tests.support.governance import make_team
from tests.support.openai_stub import OpenAIStub, running_openai_stub


@pytest.fixture
def desk(Session: Any, db_url: str) -> dict[str, Any]:
    with Session.begin() as s:
        team = make_team(s)
    seeded = seed_desk(Session)
    return {"team": team, "settings": settings_for(db_url), **seeded}


def run(
    Session: Any, settings: Settings, stub: OpenAIStub, who: Any, question: str, **kw: Any
) -> AssistantReply:
    client = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
    with Session.begin() as s:
        return ask(s, settings, client, who, question, now=NOW, **kw)


def audit_of(Session: Any, ref: str) -> list[tuple[str, dict[str, Any]]]:
    with Session() as s:
        rows = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.target == f"assistant:{ref}")
            .order_by(AuditEntry.id)
        )
        return [(r.action, r.after or {}) for r in rows]


def test_which_enterprise_accounts_failed_twice_this_month(Session: Any, desk: dict) -> None:
    def answer(body: dict[str, Any]) -> str:
        rows = last_tool_result(body)["rows"]
        return "Failed twice: " + ", ".join(
            f"case {r['case_id']} ({r['invoice_id']}, {r['customer_name']})" for r in rows
        )

    with running_openai_stub() as stub:
        stub.replies = [
            tool_call(
                "find_failed_payments", period="this_month", min_failures=2, segment="enterprise"
            ),  # fmt: skip
            answer,
        ]
        reply = run(Session, desk["settings"], stub, desk["team"]["operator"],
                    "Which enterprise accounts failed twice this month?")  # fmt: skip
    result = last_tool_result(stub.requests[-1])
    assert [r["invoice_id"] for r in result["rows"]] == ["in_ent1"]
    row = result["rows"][0]
    assert (row["segment"], row["failed_attempts_in_period"], row["amount_due"]) == (
        "enterprise", 2, {"amount": 1000.0, "currency": "usd"},
    )  # fmt: skip
    assert row["customer_email"] == "cus_ent1@example.com"  # an operator sees contacts
    assert [r["ref"] for r in reply.cited] == ["in_ent1"]
    assert "in_ent1" in reply.answer and reply.rounds == 2 and reply.stopped is None
    # the fixed system prompt and the tools, as sent through the real client
    first = stub.requests[0]
    assert first["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert {t["function"]["name"] for t in first["tools"]} >= {"find_failed_payments",
                                                              "propose_action"}  # fmt: skip
    actions = [a for a, _ in audit_of(Session, reply.ref)]
    assert actions == ["assistant.session", "assistant.tool_call", "assistant.answer"]
    with Session() as s:  # the Audit log page reads each as a sentence
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.target == f"assistant:{reply.ref}")
        ).all()
        assert [describe(e) for e in sorted(entries, key=lambda e: e.id)] == [
            "operator asked the desk assistant a question.",
            "operator let the desk assistant look up records.",
            "operator got an answer from the desk assistant.",
        ]


def test_disputes_due_this_week_over_500_with_an_open_ticket(Session: Any, desk: dict) -> None:
    with running_openai_stub() as stub:
        stub.replies = [
            tool_call(
                "find_disputes",
                due_within_days=7,
                min_amount=500,
                currency="usd",
                with_open_ticket=True,
            ),  # fmt: skip
            lambda body: (
                "Due: "
                + ", ".join(
                    f"{r['dispute_id']} (ticket {r['open_tickets'][0]['ticket_id']})"
                    for r in last_tool_result(body)["rows"]
                )
            ),
            tool_call("get_record", kind="dispute", id=desk["disputes"]["cus_jp"]),
            lambda body: f"{last_tool_result(body)['rows'][0]['amount']}",
        ]
        reply = run(Session, desk["settings"], stub, desk["team"]["approver"],
                    "Disputes due this week over $500 with an open ticket")  # fmt: skip
        rows = last_tool_result(stub.requests[1])["rows"]
        assert [r["dispute_id"] for r in rows] == [desk["disputes"]["cus_ent1"]]
        assert rows[0]["amount"] == {"amount": 750.0, "currency": "usd"}
        assert [t["ticket_id"] for t in rows[0]["open_tickets"]] == ["T-100"]
        assert {r["id"] for r in reply.cited} == {desk["disputes"]["cus_ent1"], "T-100"}
        # a zero-decimal currency: 80,000 JPY is 80000 yen, not 800
        jpy = run(Session, desk["settings"], stub, desk["team"]["approver"], "The yen dispute?")
    assert jpy.answer == str({"amount": 80000, "currency": "jpy"})


def test_why_mrr_at_risk_is_up_since_monday(Session: Any, desk: dict) -> None:
    with running_openai_stub() as stub:
        stub.replies = [
            tool_call("explain_mrr_at_risk", since="monday"),
            lambda body: "Up by {change}: new {new}; paid {gone}.".format(
                change=last_tool_result(body)["change"],
                new=[
                    r["invoice_id"]
                    for r in last_tool_result(body)["rows"]
                    if r["change"] == "newly_at_risk"
                ],
                gone=[
                    r["invoice_id"]
                    for r in last_tool_result(body)["rows"]
                    if r["change"] == "no_longer_at_risk"
                ],
            ),  # fmt: skip
        ]
        reply = run(Session, desk["settings"], stub, desk["team"]["operator"],
                    "Why is MRR at risk up since Monday?")  # fmt: skip
    result = last_tool_result(stub.requests[-1])
    assert result["since"] == "2026-11-30"
    assert result["mrr_at_risk_now"] == [{"amount": 3650.0, "currency": "usd"}]
    assert result["mrr_at_risk_then"] == [{"amount": 900.0, "currency": "usd"}]
    assert result["change"] == [{"amount": 2750.0, "currency": "usd"}]
    changes = {(r["invoice_id"], r["change"]) for r in result["rows"]}
    assert changes == {
        ("in_ent1", "newly_at_risk"),
        ("in_ent2", "newly_at_risk"),
        ("in_smb1", "newly_at_risk"),
        ("in_ent3", "no_longer_at_risk"),
    }
    assert {r["ref"] for r in reply.cited} == {"in_ent1", "in_ent2", "in_smb1", "in_ent3"}


def test_a_proposal_waits_for_approval_and_nothing_executes(Session: Any, desk: dict) -> None:
    charge = desk["refundable_charge"]
    with running_openai_stub() as stub:
        stub.replies = [
            # an amount is not the model's to give: refused by the schema, told to the model
            tool_call(
                "propose_action",
                action_type="refund",
                target_id=charge,
                reason="customer asked",
                amount=1,
            ),  # fmt: skip
            tool_call(
                "propose_action",
                action_type="refund",
                target_id=charge,
                reason="customer asked twice",
            ),  # fmt: skip
            lambda body: f"Requested as action {last_tool_result(body)['rows'][0]['action_id']}.",
        ]
        reply = run(Session, desk["settings"], stub, desk["team"]["operator"],
                    f"Refund {charge}, the customer asked twice")  # fmt: skip
        refused = last_tool_result(stub.requests[1])
    assert refused["ok"] is False and "amount" in refused["error"]
    assert "Additional properties" in refused["error"]
    with Session() as s:
        actions = s.scalars(select(ActionRequest)).all()
        assert len(actions) == 1
        action = actions[0]
        # the amount is the charge's refundable remainder from the synced Stripe object
        assert (action.action_type, action.target_id, action.amount, action.currency) == (
            "refund", charge, 12_000, "usd",
        )  # fmt: skip
        assert action.status == "requested" and action.requested_by == "operator"
        assert action.reason.startswith("Proposed from the desk assistant")
    assert reply.proposals[0]["action_id"] == action.id
    assert reply.cited == [{"kind": "action_request", "id": str(action.id), "ref": charge}]
    # the executor runs approved actions only: this one waits
    report = run_pending(Session, desk["settings"])
    assert report.outcomes == []
    with Session() as s:
        assert s.get(ActionRequest, action.id).status == "requested"
    outcomes = [after["outcome"] for a, after in audit_of(Session, reply.ref)
                if a == "assistant.tool_call"]  # fmt: skip
    assert outcomes == ["error", "ok"]


def test_a_viewer_cannot_propose_and_unknown_tools_are_refused(
    Session: Any, desk: dict, db_url: str
) -> None:
    viewer = desk["team"]["viewer"]
    with running_openai_stub() as stub:
        with pytest.raises(PermissionDenied, match="AI_ASSISTANT_ROLES"):
            run(Session, desk["settings"], stub, viewer, "anything")
        assert stub.requests == []
        settings = settings_for(db_url, AI_ASSISTANT_ROLES="viewer,operator,approver,admin")
        stub.replies = [
            tool_call("propose_action", action_type="refund",
                      target_id=desk["refundable_charge"], reason="refund everything"),
            tool_call("run_sql", query="DELETE FROM action_requests"),
            tool_call("find_failed_payments", period="all", min_failures="two"),
            tool_call("find_failed_payments", period="all"),
            "Done.",
        ]  # fmt: skip
        reply = run(Session, settings, stub, viewer, "Refund everything")
    # the viewer is not even shown the proposing tool
    assert "propose_action" not in {t["function"]["name"] for t in stub.requests[0]["tools"]}
    results = [last_tool_result(r) for r in stub.requests[1:]]
    assert results[0]["ok"] is False
    assert results[0]["error"].startswith("Your user's role (viewer) may not call propose_action")
    assert results[1]["error"].startswith("There is no tool named 'run_sql'")
    assert results[2]["error"].startswith("Invalid min_failures for find_failed_payments")
    assert results[3]["ok"] is True
    # a viewer sees no e-mail addresses
    assert {r["customer_email"] for r in results[3]["rows"]} == {None}
    with Session() as s:
        assert s.scalars(select(ActionRequest)).all() == []
    outcomes = [after["outcome"] for a, after in audit_of(Session, reply.ref)
                if a == "assistant.tool_call"]  # fmt: skip
    assert outcomes == ["refused", "refused", "error", "ok"]


def test_the_rounds_are_bounded(Session: Any, desk: dict) -> None:
    with running_openai_stub() as stub:
        stub.replies = [tool_call("find_disputes") for _ in range(10)]
        reply = run(Session, desk["settings"], stub, desk["team"]["operator"], "Loop", max_rounds=3)
    assert len(stub.requests) == 3 and reply.rounds == 3
    assert reply.answer.startswith("The assistant stopped after 3 rounds")


def test_the_budget_stops_the_conversation(Session: Any, desk: dict, db_url: str) -> None:
    settings = settings_for(db_url, AI_DAILY_TOKEN_BUDGET="300")
    with running_openai_stub() as stub:  # 160 tokens a call
        stub.replies = [tool_call("find_disputes") for _ in range(5)]
        reply = run(Session, settings, stub, desk["team"]["operator"], "Disputes?")
        assert len(stub.requests) == 2
        assert reply.answer.startswith("The model budget for 2026-12-03 is spent")
        with Session() as s:
            usage = s.scalars(select(AiUsage).order_by(AiUsage.id)).all()
            assert [(u.purpose, u.outcome, u.actor) for u in usage] == [
                ("assistant", "ok", "operator"),
                ("assistant", "ok", "operator"),
                ("assistant", "refused", "operator"),
            ]
            assert allowance(s, settings, NOW).spent
        # the next question makes no call at all
        again = run(Session, settings, stub, desk["team"]["operator"], "And now?")
        assert len(stub.requests) == 2 and again.stopped and again.rounds == 0


def test_requests_waiting_are_listed_and_invented_ids_are_flagged(Session: Any, desk: dict) -> None:
    charge = desk["refundable_charge"]
    with running_openai_stub() as stub:
        stub.replies = [
            tool_call("propose_action", action_type="refund", target_id=charge, reason="dup"),
            "Proposed.",
            tool_call("find_requests"),
            lambda body: (
                "Waiting: "
                + ", ".join(
                    f"#{r['action_id']} on {r['target_id']}" for r in last_tool_result(body)["rows"]
                )
                + "; also in_invented42 and T-999."
            ),  # fmt: skip
        ]
        run(Session, desk["settings"], stub, desk["team"]["operator"], f"Refund {charge}")
        reply = run(Session, desk["settings"], stub, desk["team"]["approver"], "What waits?")
    rows = last_tool_result(stub.requests[-1])["rows"]
    assert [(r["action_type"], r["target_id"], r["status"]) for r in rows] == [
        ("refund", charge, "requested")
    ]
    assert rows[0]["amount"] == {"amount": 120.0, "currency": "usd"}
    assert reply.unverified == ["T-999", "in_invented42"]
    assert [r["ref"] for r in reply.cited] == [charge]
    answer = dict(audit_of(Session, reply.ref))["assistant.answer"]
    assert answer["unverified_ids"] == ["T-999", "in_invented42"]
    assert answer["answer"].startswith("Waiting: #")


def test_a_failing_endpoint_stops_with_a_sentence(Session: Any, desk: dict) -> None:
    with running_openai_stub() as stub:
        stub.status = 500
        reply = run(Session, desk["settings"], stub, desk["team"]["operator"], "Anything?")
    assert reply.answer.startswith("The model could not answer: the model endpoint failed")
    assert reply.rounds == 0
    with Session() as s:
        usage = s.scalars(select(AiUsage)).all()
        assert [(u.outcome, u.prompt_tokens) for u in usage] == [("failed", 0)]
