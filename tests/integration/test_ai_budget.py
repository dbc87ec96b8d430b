"""The model's daily budget: every call booked on the team's day, none made once it is spent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.adapters.ai_usage import allowance, book, ensure_allowance, usage_by_day
from core.adapters.llm import LlmClient
from core.errors import AiBudgetSpent, ConfigError
from tests.conftest import settings_for
from tests.support.openai_stub import running_openai_stub

NOW = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)  # 00:30 on 4 December in Berlin


def test_calls_are_booked_and_the_budget_stops_the_next(Session: Any, db_url: str) -> None:
    settings = settings_for(db_url, AI_DAILY_TOKEN_BUDGET="400", TEAM_TIMEZONE="Europe/Berlin")
    with running_openai_stub() as stub:
        stub.replies = ["one", "two", "three"]
        client = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        refusal = ""
        with Session() as session:
            for n in range(4):
                try:
                    ensure_allowance(session, settings, NOW)
                except AiBudgetSpent as exc:
                    refusal = str(exc)
                    book(session, settings, "assistant", outcome="refused", now=NOW)
                    break
                turn = client.chat([{"role": "user", "content": f"q{n}"}])
                book(session, settings, "brief", reply=turn, actor="ana", now=NOW)
            session.commit()
        # 160 tokens a call: after two, 320 < 400 still allows a third; after it, 480 >= 400
        assert len(stub.requests) == 3
        assert refusal.startswith("The model budget for 2026-12-04 is spent")
        with Session() as session:
            left = allowance(session, settings, NOW)
            assert left.tokens_used == 480 and left.calls == 3 and left.spent
            with pytest.raises(AiBudgetSpent, match="AI_DAILY_TOKEN_BUDGET"):
                ensure_allowance(session, settings, NOW)
            # 23:30 UTC is already the next day in Berlin: the calls count there
            assert left.day == "2026-12-04"
            # the next team day starts afresh
            assert not allowance(session, settings, NOW + timedelta(days=1)).spent
            rows = usage_by_day(session, settings, now=NOW)
            assert rows == [
                {
                    "day": "2026-12-04",
                    "purpose": "assistant",
                    "calls": 1,
                    "tokens": 0,
                    "cost_usd": 0.0,
                },
                {
                    "day": "2026-12-04",
                    "purpose": "brief",
                    "calls": 3,
                    "tokens": 480,
                    "cost_usd": 0.0001,
                },
            ]


def test_the_cost_budget_counts_too(Session: Any, db_url: str) -> None:
    settings = settings_for(db_url, AI_DAILY_COST_BUDGET_USD="0.0001")
    with running_openai_stub() as stub:
        stub.usage = (1000, 0)  # 1,000 input tokens of gpt-4o-mini: $0.00015
        client = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        with Session() as session:
            ensure_allowance(session, settings, NOW)
            book(session, settings, "draft", reply=client.chat([]), now=NOW)
            with pytest.raises(AiBudgetSpent, match=r"\$0\.00 of \$0\.00"):
                ensure_allowance(session, settings, NOW)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AI_DAILY_TOKEN_BUDGET": "lots"}, "is not a number"),
        ({"AI_DAILY_COST_BUDGET_USD": "-1"}, "greater than zero"),
        ({"AI_ASSISTANT_ROLES": "operator,boss"}, "names boss"),
    ],
)
def test_wrong_ai_settings_say_what_to_fix(
    sqlite_url: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_for(sqlite_url, **env)


def test_roles_can_switch_the_assistant_off(sqlite_url: str) -> None:
    assert settings_for(sqlite_url).ai.assistant_roles == ("operator", "approver", "admin")
    assert settings_for(sqlite_url, AI_ASSISTANT_ROLES="none").ai.assistant_roles == ()
    assert settings_for(sqlite_url, AI_BRIEF_ROLES="Admin").ai.brief_roles == ("admin",)
