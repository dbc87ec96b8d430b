"""The briefs job writes model briefs ahead, most urgent first, within its limit and the budget;
lists that do not wait show the template until then."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from core.adapters.llm import LlmClient
from core.models.ai import AiUsage
from core.reports.briefs.ahead import subjects_ahead
from core.reports.briefs.store import brief_in_steps, write_ahead
from tests.conftest import settings_for
from tests.support.briefs import seed_desk
from tests.support.openai_stub import running_openai_stub


def _answer(body: dict[str, Any]) -> dict[str, str]:
    """A brief that states only facts: the plain version it was sent."""
    return {"brief": json.loads(body["messages"][1]["content"])["plain_version"]}


def test_the_job_writes_ahead_once_and_lists_never_wait(Session: Any, db_url: str) -> None:
    ids = seed_desk(Session)
    settings = settings_for(db_url)
    with running_openai_stub() as stub:
        llm = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        # a list card that does not wait: the template, and no call
        card = brief_in_steps(
            Session, settings, "request", ids["request_id"], llm=llm, role="approver", wait=False
        )
        assert card.source == "template" and "on its way" in card.caption()
        assert stub.requests == []
        with Session() as s:
            subjects = subjects_ahead(s)
        # the request awaiting approval first, then the dispute to answer, then the case
        assert subjects == [
            ("request", ids["request_id"]),
            ("dispute", ids["dispute_id"]),
            ("recovery_case", ids["case_id"]),
        ]
        stub.replies = [_answer, _answer, _answer]
        first = write_ahead(Session, settings, llm, subjects, limit=2)
        assert (first.written, first.already) == (2, 0) and "stopped after 2" in first.stopped
        second = write_ahead(Session, settings, llm, subjects, limit=2)
        assert (second.written, second.already, second.stopped) == (1, 2, "")
        assert len(stub.requests) == 3
        # now the card shows the model's brief without waiting
        card = brief_in_steps(
            Session, settings, "request", ids["request_id"], llm=llm, role="approver", wait=False
        )
        assert card.source == "model" and len(stub.requests) == 3
    with Session() as s:
        assert s.scalars(select(AiUsage.actor)).all() == ["briefs job"] * 3


def test_the_job_stops_when_the_budget_is_spent(Session: Any, db_url: str) -> None:
    ids = seed_desk(Session)
    settings = settings_for(db_url, AI_DAILY_TOKEN_BUDGET="150")  # one call: 160 tokens
    with running_openai_stub() as stub:
        llm = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        stub.replies = [_answer, _answer]
        with Session() as s:
            subjects = subjects_ahead(s)
        done = write_ahead(Session, settings, llm, subjects, limit=10)
    assert done.written == 1 and "budget is spent" in done.stopped
    assert len(stub.requests) == 1 and ids["request_id"]
