"""The message rewrite and the dispute narrative count against the same daily budget as briefs:
asked before each call, booked after it, and the template kept once the day is spent."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from core.adapters.llm import LlmClient
from core.adapters.metered import MeteredModel
from core.disputes.actions import rephrase_narrative
from core.disputes.handlers import apply_dispute
from core.governance.auth import Actor
from core.models.ai import AiUsage
from core.recovery.context import recovery_settings
from core.recovery.drafts import draft_for_operator
from tests.conftest import settings_for
from tests.support import disputes as f
from tests.support.briefs import seed_desk
from tests.support.openai_stub import running_openai_stub

OPERATOR = Actor(None, "olivia", "operator")


def _echo(body: dict[str, Any]) -> dict[str, Any]:
    return {"parts": json.loads(body["messages"][1]["content"])["parts"]}


def test_drafts_are_booked_and_stop_at_the_budget(Session: Any, db_url: str) -> None:
    ids = seed_desk(Session)
    cfg, _ = recovery_settings()
    settings = settings_for(db_url, AI_DAILY_TOKEN_BUDGET="150")  # one call: 160 tokens
    with running_openai_stub() as stub:
        stub.replies = [_echo, _echo]
        llm = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        with Session.begin() as s:
            first = draft_for_operator(s, OPERATOR, ids["case_id"], "email", cfg, llm, settings)
            assert first.guard == "ai rewrite passed the guard"
        with Session.begin() as s:
            spent = draft_for_operator(s, OPERATOR, ids["case_id"], "chat", cfg, llm, settings)
        assert len(stub.requests) == 1
    assert spent.model == "gpt-4o-mini" and spent.guard.startswith(
        "template (model unavailable: The model budget for"
    )
    with Session() as s:
        rows = s.scalars(select(AiUsage)).all()
        assert [(u.purpose, u.outcome, u.actor, u.prompt_tokens) for u in rows] == [
            ("draft", "ok", "olivia", 120)
        ]
        assert rows[0].ref == f"recovery_case:{ids['case_id']}"


def test_narratives_are_booked_and_stop_at_the_budget(sqlite_url: str) -> None:
    from core.db import make_engine, make_sessionmaker, migrate
    from core.disputes.settings import DisputeConfig

    engine = make_engine(sqlite_url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    cfg = DisputeConfig(alert_threshold=10**12, default_owner="owner@example.com")
    now = f.ts(2026, 6, 1, 12)
    with Session.begin() as s:
        disputes = []
        for n in range(2):
            cus = f.customer(s, name=f"Ada {n}")
            ch = f.charge(s, cus, 12_345, now - 20 * f.DAY)
            case, _ = apply_dispute(
                s, f.dispute(ch, due_by=now + 5 * f.DAY), event_created=now - f.DAY, cfg=cfg
            )
            disputes.append(case.dispute_id)
    settings = settings_for(sqlite_url, AI_DAILY_TOKEN_BUDGET="150")
    with running_openai_stub() as stub:
        stub.replies = [_echo, _echo]
        llm = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        metas = []
        for dispute_id in disputes:
            with Session.begin() as s:
                model = MeteredModel(llm, s, settings, "narrative", actor="olivia", ref=dispute_id)
                metas.append(
                    dict(rephrase_narrative(s, OPERATOR, dispute_id, model, cfg).narrative)
                )
        assert len(stub.requests) == 1
    assert metas[0]["source"] == "ai"
    assert metas[1]["source"] == "template" and "model budget" in metas[1]["guard"]
    with Session() as s:
        assert [(u.purpose, u.ref) for u in s.scalars(select(AiUsage))] == [
            ("narrative", disputes[0])
        ]
    engine.dispose()
