"""AppTest for the bulk controls: approve several requests with one reason on the Approvals
page, assign several failed-payment cases, and the queue export buttons (hidden from viewers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db import make_engine, make_sessionmaker, migrate
from core.governance import actions
from core.models.governance import ActionRequest, Approval
from core.models.recovery import RecoveryCase
from dashboard.auth import SESSION_KEY
from tests.support.governance import make_refund_request, make_team

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE", "LEDGERDESK_SANDBOX", "SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        team = make_team(s)
        for n in range(3):
            actions.request_action(
                s,
                team["operator"],
                action_type="send_message",
                target_id=f"in_ui_{n}",
                params={"to": f"c{n}@example.com", "subject": "Card update", "body": "Hello"},
                reason=f"reminder {n}",
            )
        make_refund_request(s, team["operator"], "ch_ui_big", amount=90000)
        for n in range(2):
            s.add(
                RecoveryCase(
                    invoice_id=f"in_case_{n}",
                    customer_name=f"Customer {n}",
                    currency="usd",
                    amount_due=4900,
                    amount_remaining=4900,
                    first_failed_at=1_780_000_000,
                    last_event_created=1_780_000_000,
                )
            )
    return {"Session": Session, "team": team}


def page(name: str, actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    at.session_state[SESSION_KEY] = actor
    return at.run()


def downloads(at: AppTest) -> list[str]:
    return [str(e.proto.label) for e in at.get("download_button")]


def test_approve_several_with_one_reason(world: dict[str, Any]) -> None:
    at = page("approvals.py", world["team"]["approver"])
    assert not at.exception
    assert "1 request(s) need two approvers" in "\n".join(c.value for c in at.caption)
    assert at.multiselect(key="bulk_ids_send_message").value == [1, 2, 3]
    at.text_input(key="bulk_reason").input("templates checked").run()
    at.button(key="bulk_approve").click().run()
    assert not at.exception
    assert "3 approved" in "\n".join(s.value for s in at.success)
    with world["Session"]() as s:
        statuses = dict(s.execute(select(ActionRequest.id, ActionRequest.status)).all())
        assert [statuses[i] for i in (1, 2, 3, 4)] == ["approved"] * 3 + ["requested"]
        reasons = s.scalars(select(Approval.reason)).all()
        assert reasons == ["templates checked"] * 3
    assert any("Export approvals" in d for d in downloads(at))


def test_assign_several_cases_and_viewers_get_no_bulk_controls(world: dict[str, Any]) -> None:
    at = page("failed_payments.py", world["team"]["operator"])
    assert not at.exception
    at.multiselect(key="rf_bulk_cases").set_value([1, 2]).run()
    at.text_input(key="rf_bulk_to").input("kim@example.com").run()
    at.button(key="rf_bulk_assign").click().run()
    assert not at.exception
    with world["Session"]() as s:
        assert s.scalars(select(RecoveryCase.assigned_to)).all() == ["kim@example.com"] * 2
    assert any("Export failed payments (XLSX)" in d for d in downloads(at))
    viewer = page("failed_payments.py", world["team"]["viewer"])
    assert not viewer.exception and downloads(viewer) == []
    assert not [m for m in viewer.multiselect if m.key == "rf_bulk_cases"]
    for name in ("outbox.py", "approvals.py"):
        assert downloads(page(name, world["team"]["viewer"])) == []
