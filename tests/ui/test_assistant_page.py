"""AppTest: the Desk assistant page (no model, a role switched off, a conversation through the
real client and a scripted model on loopback) and the model use on Users & policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.adapters.ai_usage import book
from core.adapters.llm import ChatTurn
from core.db import make_sessionmaker
from core.models.governance import ActionRequest
from dashboard.auth import SESSION_KEY
from dashboard.format import md_text
from tests.conftest import settings_for
from tests.support.assistant import last_tool_result, seed_desk, tool_call
from tests.support.governance import make_team
from tests.support.hostile import PIXEL
from tests.support.openai_stub import running_openai_stub
from tests.support.pages import page_desk

ROOT = Path(__file__).resolve().parents[2]
CLEARED = ("STRIPE_API_KEY", "STRIPE_API_BASE", "LEDGERDESK_SANDBOX", "SMTP_URL",
           "SLACK_WEBHOOK_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AI_ASSISTANT_ROLES")  # fmt: skip


@pytest.fixture
def stub() -> Iterator[Any]:
    with running_openai_stub() as server:
        yield server


def _desk(tmp_path: Path, **env: str) -> Any:
    return page_desk(tmp_path, "ui.db", [c for c in CLEARED if c not in env], **env)


def page(name: str, actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=30)
    at.session_state[SESSION_KEY] = actor
    return at.run()


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "warning", "success", "error")
    return "\n".join(str(e.value) for kind in kinds for e in at.get(kind))


def test_without_a_model_the_page_says_how_to_enable_it(tmp_path: Path) -> None:
    with _desk(tmp_path) as (_, engine):
        with make_sessionmaker(engine).begin() as s:
            team = make_team(s)
        at = page("assistant.py", team["operator"])
    assert not at.exception
    info = " ".join(i.value for i in at.info)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        assert name in info
    assert "every other page works" in info
    assert not at.get("text_area")


def test_a_role_switched_off_is_told_so(tmp_path: Path, stub: Any) -> None:
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": stub.url, "AI_ASSISTANT_ROLES": "admin"}
    with _desk(tmp_path, **env) as (_, engine):
        with make_sessionmaker(engine).begin() as s:
            team = make_team(s)
        at = page("assistant.py", team["operator"])
    assert "off for your role (operator)" in " ".join(i.value for i in at.info)
    assert not at.get("text_area") and stub.requests == []


def test_a_question_answered_with_records_and_a_proposal(tmp_path: Path, stub: Any) -> None:
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": stub.url}
    with _desk(tmp_path, **env) as (_, engine):
        Session = make_sessionmaker(engine)
        with Session.begin() as s:
            team = make_team(s)
        seeded = seed_desk(Session, {"ticket_subject": PIXEL})
        dispute = seeded["disputes"]["cus_ent1"]
        charge = seeded["refundable_charge"]
        stub.replies = [
            tool_call("get_record", kind="dispute", id=dispute),
            tool_call(
                "propose_action", action_type="refund", target_id=charge, reason="duplicate payment"
            ),  # fmt: skip
            lambda body: (
                f"Dispute {dispute}: open ticket "
                f"{last_tool_result({'messages': body['messages'][:-2]})['rows'][0]['open_tickets'][0]['subject']}"
                f"; refund proposed as action {last_tool_result(body)['rows'][0]['action_id']}."
            ),
        ]
        at = page("assistant.py", team["operator"])
        assert not at.exception
        at.text_area(key="assistant_question").input(f"What about {dispute}? Refund {charge}.")
        at.button[0].click().run()
        assert not at.exception, at.exception
        shown = texts(at)
        with Session() as s:
            action = s.scalars(select(ActionRequest)).one()
        at.run()  # the question is in the person's history, read back from the audit log
        history = at.dataframe[-1].value
    assert action.status == "requested" and action.amount == 12_000
    # the answer quotes the hostile ticket subject as text, never as an image
    answer = next(m.value for m in at.markdown if "open ticket" in m.value)
    assert md_text(PIXEL) in answer and PIXEL not in answer
    assert f"Proposed as action #{action.id}: refund of $120.00" in shown
    assert "Nothing has been executed" in shown
    records = at.dataframe[0].value
    assert set(records["id"]) >= {dispute, str(action.id)}
    assert set(records["open on"]) == {"Disputes", "Approvals"}
    assert f"What about {dispute}? Refund {charge}." in list(history["question"])


def test_users_page_shows_the_model_budget_and_use(tmp_path: Path) -> None:
    env = {"AI_DAILY_TOKEN_BUDGET": "1000", "AI_ASSISTANT_ROLES": "approver,admin"}
    with _desk(tmp_path, **env) as (url, engine):
        with make_sessionmaker(engine).begin() as s:
            team = make_team(s)
            settings = settings_for(url, tmp_path, **env)
            turn = ChatTurn("ok", "gpt-4o-mini", 300, 100, 0)
            book(s, settings, "assistant", reply=turn, actor="operator")
            book(s, settings, "brief", reply=turn)
        at = page("users.py", team["admin"])
    assert not at.exception
    shown = texts(at)
    assert "1,000 tokens" in shown
    assert "800 of 1,000 tokens" in shown and "2 calls" in shown
    assert "Desk assistant for:** approver, admin" in shown
    assert "No model configured" in shown
    usage = at.dataframe[-1].value
    assert sorted(usage["for"]) == ["assistant", "brief"] and list(usage["tokens"]) == [400, 400]


def test_the_sidebar_lists_the_assistant_only_for_the_roles_switched_on(tmp_path: Path) -> None:
    app = str(ROOT / "dashboard" / "app.py")
    with _desk(tmp_path, AI_ASSISTANT_ROLES="approver,admin") as (_, engine):
        with make_sessionmaker(engine).begin() as s:
            team = make_team(s)
        for role, listed in (("viewer", False), ("operator", False), ("approver", True)):
            at = AppTest.from_file(app, default_timeout=60)
            at.session_state[SESSION_KEY] = team[role]
            at.run()
            assert not at.exception, at.exception
            if listed:
                at.switch_page("../pages/assistant.py").run()
                assert not at.exception and at.title[0].value == "Desk assistant"
            else:
                with pytest.raises(ValueError, match="Could not find a navigation page"):
                    at.switch_page("../pages/assistant.py")
