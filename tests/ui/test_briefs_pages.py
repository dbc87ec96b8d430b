"""AppTest: the brief opens the failed-payment case, the dispute and each approval card — from the
templates without a model, from the model (through the loopback stub) for the roles allowed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db import make_engine, make_sessionmaker, migrate
from core.models.ai import AiUsage, Brief
from dashboard.format import md_text
from tests.support.briefs import INJECTED_NAME, seed_desk
from tests.support.openai_stub import running_openai_stub

ROOT = Path(__file__).resolve().parents[2]
CLEARED = ("STRIPE_API_KEY", "STRIPE_API_BASE", "LEDGERDESK_SANDBOX", "OPENAI_API_KEY")
MODEL_BRIEF = (
    "Request #1 asks for a refund of $800.00 for Big Co (cus_big); it needs 2 approvals. "
    "Big Co is an enterprise account with MRR $9,000.00 and 1 open ticket."
)


def _world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    for var in CLEARED:
        monkeypatch.delenv(var, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    return {"Session": Session, "engine": engine, **seed_desk(Session, name=name)}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    w = _world(tmp_path, monkeypatch, "Big Co")
    yield w
    st.cache_resource.clear()
    w["engine"].dispose()


def _page(name: str, actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    at.session_state["ledgerdesk_actor"] = actor
    return at.run()


def _briefs(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


def test_the_case_opens_with_its_brief(world: dict[str, Any]) -> None:
    at = _page("failed_payments.py", world["team"]["approver"])
    assert not at.exception, at.exception
    briefs = _briefs(at)
    assert any(md_text("did not pay invoice INV-0001 ($2,500.00)") in b for b in briefs), briefs
    text = " ".join(briefs)
    assert md_text("REC-HIGH-VALUE") in text and md_text("MRR $9,000.00") in text
    assert any(md_text("Brief composed from the records.") in c.value for c in at.caption)
    # computed once, kept: a second view reads the stored brief
    _page("failed_payments.py", world["team"]["approver"])
    with world["Session"]() as s:
        kinds = s.scalars(select(Brief.subject_kind)).all()
        assert kinds.count("recovery_case") == 1, kinds


def test_the_dispute_opens_with_its_brief(world: dict[str, Any]) -> None:
    at = _page("disputes.py", world["team"]["operator"])
    assert not at.exception, at.exception
    assert any(
        "Product not received" in b and md_text("evidence due 2026-06-06") in b for b in _briefs(at)
    )


def test_each_approval_card_shows_the_brief_from_the_model_for_approvers(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_openai_stub() as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-stub")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("AI_BRIEF_ROLES", "approver,admin")
        st.cache_resource.clear()
        stub.replies = [{"brief": MODEL_BRIEF}]
        at = _page("approvals.py", world["team"]["approver"])
        assert not at.exception, at.exception
        assert md_text(MODEL_BRIEF) in _briefs(at)
        assert any("Brief written by gpt\\-4o\\-mini" in c.value for c in at.caption)
        _page("approvals.py", world["team"]["approver"])  # the same inputs: no second call
        assert len(stub.requests) == 1
        # an operator's role is not among AI_BRIEF_ROLES: the template, and no call
        at = _page("failed_payments.py", world["team"]["operator"])
        assert not at.exception, at.exception
        assert any("model briefs are off for the operator role" in c.value for c in at.caption)
        assert len(stub.requests) == 1
    with world["Session"]() as s:
        assert s.scalars(select(AiUsage.purpose)).all() == ["brief"]


def test_an_injected_name_is_shown_as_a_quote_in_plain_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _world(tmp_path, monkeypatch, INJECTED_NAME + " [click](https://evil.example)")
    try:
        at = _page("failed_payments.py", w["team"]["approver"])
        assert not at.exception, at.exception
        brief = next(b for b in _briefs(at) if "did not pay" in b)
        assert md_text(f"“{INJECTED_NAME} [click](https://evil.example)”") in brief
        assert "[click](https" not in brief  # escaped: no link is drawn
    finally:
        st.cache_resource.clear()
        w["engine"].dispose()
