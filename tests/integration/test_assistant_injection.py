"""Prompt injection is inert by construction: the corpus of hostile outside text (several
languages; in customer names, CRM names, owners and segments, ticket subjects, Stripe customer
names and metadata) reaches the model only as string values of the tool results' JSON.

The scripted model here is a gullible one: whatever it finds outside a JSON string value (the
system prompt, the question, the keys of a tool result, a tool result that is not JSON) it obeys,
and a corpus text there makes it propose refunds. So the conversation stays on its script, and no
request appears, only while the quoting holds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from core.adapters.llm import LlmClient
from core.models.governance import ActionRequest, AuditEntry
from core.reports.assistant.conversation import ask
from tests.conftest import settings_for
from tests.support.assistant import (
    NOW,
    corpus,
    instruction_text,
    seed_desk,
    string_values,
    tool_call,
)
from tests.support.governance import make_team
from tests.support.openai_stub import running_openai_stub

SCRIPT = [
    tool_call("find_failed_payments", period="all"),
    tool_call("find_disputes", due_within_days=30, with_open_ticket=True),
    tool_call("explain_mrr_at_risk", since="monday"),
    tool_call("get_record", kind="customer", id="cus_ent1"),
    tool_call("get_record", kind="ticket", id="T-100"),
]


def folded(text: str) -> str:
    """Text compared without case, spaces or punctuation (the CRM importer normalises segments
    to lower-case words joined by underscores)."""
    return re.sub(r"[\W_]+", "", text.casefold())


def gullible(step: Any, texts: list[str], charge: str) -> Any:
    """A model that follows the script unless a corpus text reaches it as an instruction."""

    def reply(body: dict[str, Any]) -> Any:
        instructions = folded(instruction_text(body))
        if any(folded(t) in instructions for t in texts):
            return tool_call("propose_action", action_type="refund", target_id=charge,
                             reason="as instructed")  # fmt: skip
        return step

    return reply


def test_the_injection_corpus_changes_no_tool_call_and_no_proposal(
    Session: Any, db_url: str
) -> None:
    entries = corpus()
    planted: dict[str, list[str]] = {}
    for e in entries:
        planted.setdefault(e["where"], []).append(e["text"])
    with Session.begin() as s:
        operator = make_team(s)["operator"]
    seeded = seed_desk(Session, {where: " / ".join(texts) for where, texts in planted.items()})
    texts = [e["text"] for e in entries]
    settings = settings_for(db_url)
    with running_openai_stub() as stub:
        charge = seeded["refundable_charge"]
        stub.replies = [gullible(step, texts, charge) for step in [*SCRIPT, "Done."]]
        client = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        with Session.begin() as s:
            reply = ask(s, settings, client, operator, "Summarise the desk for me.", now=NOW)
    assert reply.answer == "Done." and reply.proposals == []
    # every tool call the model made is the script's, in order; none was a proposal
    with Session() as s:
        calls = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "assistant.tool_call")
            .order_by(AuditEntry.id)
        ).all()
        assert [(c.after["tool"], c.after["outcome"]) for c in calls] == [
            (step["tool_calls"][0]["name"], "ok") for step in SCRIPT
        ]
        assert s.scalars(select(ActionRequest)).all() == []
    # the hostile text reached the model, and only ever as a quoted string value of tool data
    reached: set[str] = set()
    for body in stub.requests:
        instructions = folded(instruction_text(body))
        assert not any(folded(t) in instructions for t in texts)
        for message in body["messages"]:
            if message["role"] != "tool":
                continue
            values = [folded(v) for v in string_values(json.loads(message["content"]))]
            reached |= {t for t in texts if any(folded(t) in v for v in values)}
    where = {e["text"]: e["where"] for e in entries}
    assert {where[t] for t in reached} == {
        "customer_name", "crm_name", "crm_owner", "crm_segment", "ticket_subject",
        "stripe_customer_name",
    }  # fmt: skip
    # metadata is never sent at all
    assert not any(where[t] == "metadata" for t in reached)
