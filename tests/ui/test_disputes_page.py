"""AppTest for the Disputes page: board order, detail, PDF, request buttons, analytics tab."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.books.views import save_read_models
from core.db import make_engine, make_sessionmaker, migrate
from core.disputes.handlers import apply_dispute
from core.disputes.settings import DisputeConfig
from core.models.governance import ActionRequest
from tests.support import disputes as f
from tests.support.governance import make_user

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEAM_TIMEZONE", "Europe/Berlin")
    st.cache_resource.clear()
    st.cache_data.clear()  # the analytics are cached per process, not per database
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    now = int(time.time())
    cfg = DisputeConfig(alert_threshold=10**12, default_owner="sam@example.com")
    with Session.begin() as session:
        op = make_user(session, "olga", "operator")
        cus = f.customer(session, name="Grace Hopper")
        later = f.charge(session, cus, 30_000, now - 20 * f.DAY)
        urgent = f.charge(session, cus, 5_000, now - 10 * f.DAY)
        old = f.charge(session, cus, 7_000, now - 40 * f.DAY)
        a, _ = apply_dispute(
            session, f.dispute(later, due_by=now + 10 * f.DAY), event_created=now, cfg=cfg
        )
        b, _ = apply_dispute(
            session,
            f.dispute(urgent, reason="product_not_received", due_by=now + 20 * 3600),
            event_created=now,
            cfg=cfg,
        )
        won = f.dispute(
            old,
            reason="product_not_received",
            due_by=now - 5 * f.DAY,
            status="won",
            created=now - 30 * f.DAY,
        )
        apply_dispute(session, won, event_created=now - f.DAY, cfg=cfg)
    yield {"Session": Session, "actor": op, "urgent": b.dispute_id, "later": a.dispute_id}
    st.cache_resource.clear()
    engine.dispose()


def _app(actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "disputes.py"), default_timeout=60)
    at.session_state["ledgerdesk_actor"] = actor
    return at.run()


def test_board_puts_the_most_urgent_first_and_requests_submission(seeded: dict[str, Any]) -> None:
    at = _app(seeded["actor"])
    assert not at.exception, at.exception
    board = at.dataframe[0].value
    assert list(board["Dispute"])[:2] == [seeded["urgent"], seeded["later"]]
    assert list(board["Urgency"])[:2] == ["Under 24 h", "Later"]  # words; colour on the border
    pick = at.selectbox(key="dispute_pick")
    assert pick.value == seeded["urgent"]
    # People's words: the customer, the amount and the reason, the id last for reference.
    assert pick.options[0] == f"Grace Hopper — $50.00 — Product not received ({seeded['urgent']})"
    assert at.header[0].value == "Grace Hopper · Product not received · Needs response"
    assert list(board["Reason"])[:2] == ["Product not received", "Fraudulent"]
    assert any("Checklist" in s.value for s in at.subheader)
    due = next(m for m in at.metric if m.label == "Due")  # fits its column: day here, time below
    assert due.value in ("Today", "Tomorrow") and "Evidence due " in due.help, due.value
    assert any(" h " in c.value and c.value.endswith("left") for c in at.caption)
    fight = next(m for m in at.metric if m.label == "Fight value").value
    assert fight.startswith(("$", "-$")), fight
    assert at.button(key="request_submit") is not None
    at.button(key="request_submit").click().run()
    assert not at.exception
    assert any("Submission requested" in s.value for s in at.success)
    with seeded["Session"]() as session:
        action = session.scalar(
            select(ActionRequest).where(ActionRequest.target_id == seeded["urgent"])
        )
    assert action is not None and action.action_type == "submit_dispute_evidence"
    assert action.params["evidence"]["customer_name"] == "Grace Hopper"
    at.selectbox(key="dispute_pick").set_value(seeded["later"]).run()
    due = next(m for m in at.metric if m.label == "Due")  # ten days out: 'Sun 13 Dec'
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{2} [A-Z][a-z]{2}", due.value), due.value


def test_viewer_cannot_request_and_sees_why(seeded: dict[str, Any]) -> None:
    with seeded["Session"].begin() as session:
        viewer = make_user(session, "vic", "viewer")
    at = _app(viewer)
    assert not at.exception, at.exception
    keys = {b.key for b in at.button}
    assert not {"stage", "request_submit", "request_accept", "rephrase"} & keys, keys
    assert any("for operators and" in c.value for c in at.caption)
    with seeded["Session"]() as session:
        assert session.scalar(select(ActionRequest)) is None


def test_analytics_tab_renders(seeded: dict[str, Any]) -> None:
    with seeded["Session"].begin() as session:
        save_read_models(session, date.today())  # what the hourly books job stores
    at = _app(seeded["actor"])
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Deadline board", "Refund before a dispute", "Analytics"]
    assert len(at.get("plotly_chart")) >= 2  # outcomes and dispute rate with threshold lines
    by_reason = at.dataframe[-1].value  # win rates by reason, in the team's words
    assert list(by_reason.index) == ["Product not received"], by_reason
    assert not any("dispute rate appears" in i.value for i in at.info)


def test_dispute_rate_waits_for_the_books_job_instead_of_counting_charges(
    seeded: dict[str, Any],
) -> None:
    at = _app(seeded["actor"])
    assert not at.exception
    assert any("dispute rate appears once the hourly `books` job" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 1  # the outcomes chart; no rate without charges


def test_an_appeal_is_on_the_board_and_a_cut_log_is_shown(seeded: dict[str, Any]) -> None:
    """An appealed dispute (submission_count 1) is back on the board by its new deadline; its
    500-line access log is cut to Stripe's 20,000 characters and the page says so."""
    from core.imports import IMPORTERS
    from core.imports.csv_import import run_import

    now = int(time.time())
    cfg = DisputeConfig(alert_threshold=10**12, default_owner="sam@example.com")
    with seeded["Session"].begin() as session:
        cus = f.customer(session, name="Alan Turing")
        ch = f.charge(session, cus, 9_000, now - 60 * f.DAY)
        rows = "".join(
            f"{cus['id']},{datetime.fromtimestamp(now - 30 * f.DAY + i * 600, UTC):%Y-%m-%d %H:%M},"
            f"download,198.51.100.{i % 250},"
            f"report export #{i:04d} of the monthly ledger for all accounts in CSV and PDF\n"
            for i in range(500)
        )
        result = run_import(
            session,
            ("stripe customer id,timestamp,event,ip,detail\n" + rows).encode(),
            IMPORTERS["usage"].schema,
            IMPORTERS["usage"].apply,
        )
        assert result.error_count == 0
        appeal = f.dispute(
            ch, status="appeal_needs_response", due_by=now + 6 * 3600, submission_count=1
        )
        case, _ = apply_dispute(session, appeal, event_created=now, cfg=cfg)
        assert not case.answered
    at = _app(seeded["actor"])
    assert not at.exception, at.exception
    board = at.dataframe[0].value
    assert list(board["Dispute"])[0] == appeal["id"]  # due in 6 h: the most urgent
    assert list(board["Status"])[0] == "Appeal — needs response"
    assert any("Appeal:" in w.value for w in at.warning)
    assert any("older lines" in w.value and "20,000" in w.value for w in at.warning)
    assert at.button(key="request_accept").disabled
