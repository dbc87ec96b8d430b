"""AppTest for Payouts & books, Drift and Reports, on a store seeded through the core services."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import delete, select
from streamlit.testing.v1 import AppTest

from core.books.data import store_objects
from core.books.journal import get_batch, list_batches, record_export, render_batch
from core.config import ensure_audit_key, load_settings
from core.db import make_engine, make_sessionmaker, migrate
from core.drift.refresh import refresh_books
from core.errors import PermissionDenied
from core.imports import IMPORTERS
from core.models.books import BooksReadModel
from core.models.governance import ActionRequest
from tests.conftest import settings_for
from tests.support.books import DAY, T0, bt, invoice_with_tax, payout
from tests.support.governance import make_user

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    st.cache_resource.clear()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        op = make_user(session, "otto", "operator")
        store_objects(session, "", [
            bt("charge", 11900, 375, source="ch_tax", created=T0 + 100),
            bt("refund", -2000, created=T0 + DAY + 50),
            bt("topup", 50000, created=T0 + DAY + 60, source="tu_1"),
            bt("brand_new_thing", -700, created=T0 + DAY + 70, source="xx_1"),
            payout(9525, id="po_ok", trace="TR1"),
            payout(4000, id="po_gone", status="failed"),
            invoice_with_tax("ch_tax", 1900),
            {"id": "cus_1", "object": "customer", "email": "a@example.com", "created": T0},
            {"id": "cus_2", "object": "customer", "email": "b@example.com", "created": T0},
            {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
             "currency": "usd", "items": {"data": [{"quantity": 1, "price": {"unit_amount": 5000,
             "recurring": {"interval": "month"}}}]}},
        ])  # fmt: skip
        recent = int(time.time()) - 5 * DAY  # inside the page's bank window
        store_objects(session, "acct_1Conn", [payout(7000, id="po_conn", arrival=recent)])
        IMPORTERS["crm"].run(session, b"stripe_customer_id,owner,mrr\ncus_1,,50.00\n")
        IMPORTERS["bank"].run(session, b"date,amount,reference\n2026-01-03,95.25,TR1\n")
    refresh_books(Session, settings_for(url, tmp_path))
    # What the page writes is signed with the desk's audit key: later writes here use it too.
    keyed = make_sessionmaker(engine, ensure_audit_key(load_settings()).audit_key)
    yield {"Session": Session, "Keyed": keyed, "actor": op}
    st.cache_resource.clear()
    engine.dispose()


def _app(page: str, actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=60)
    at.session_state["ledgerdesk_actor"] = actor
    return at.run()


def test_payouts_books_page_exports_a_batch_once(seeded: dict[str, Any]) -> None:
    at = _app("payouts_books.py", seeded["actor"])
    assert not at.exception, at.exception
    assert any("Payouts & books" in t.value for t in at.title)
    assert at.metric[0].label == "Reconciled"
    at.button(key="books_refresh").click().run()
    assert not at.exception and at.success
    at.selectbox(key="journal_fmt").set_value("xero")
    at.button[-1].click().run()  # the form's submit button
    assert not at.exception, at.exception
    assert "journal_file" in at.session_state
    prepared = at.session_state["journal_file"]
    assert prepared.data.startswith(b"*Narration")
    with seeded["Session"]() as s:  # prepared is not exported: nobody has the file yet
        assert get_batch(s, prepared.batch).exported_at is None
    # The download button books it (its on_click); the same file again books nothing more.
    with seeded["Keyed"].begin() as s:
        assert record_export(s, prepared, actor=seeded["actor"]) is True
    with seeded["Keyed"].begin() as s:
        assert record_export(s, prepared, actor=seeded["actor"]) is False
        assert get_batch(s, prepared.batch).export_count == 1
    at.button[-1].click().run()
    assert any("already exported" in e.value for e in at.error)


def test_a_viewer_can_neither_export_nor_refresh_nor_import(seeded: dict[str, Any]) -> None:
    with seeded["Session"].begin() as s:
        viewer = make_user(s, "books_viewer", "viewer")
    at = _app("payouts_books.py", viewer)
    assert not at.exception, at.exception
    assert at.button(key="books_refresh").disabled
    assert not [b for b in at.button if b.label == "Prepare the file"]
    assert not at.get("file_uploader")
    with seeded["Session"]() as s:
        key = list_batches(s)[0].key
        with pytest.raises(PermissionDenied):
            render_batch(s, settings_for("sqlite:///unused.db", None), key, "xero", actor=viewer)
    with pytest.raises(PermissionDenied):
        refresh_books(seeded["Session"], settings_for("sqlite:///unused.db", None), actor=viewer)


def test_an_unknown_reporting_category_is_flagged_on_the_page(seeded: dict[str, Any]) -> None:
    at = _app("payouts_books.py", seeded["actor"])
    assert not at.exception, at.exception
    flagged = [w.value for w in at.warning if "suspense" in w.value]
    assert len(flagged) == 1, [w.value for w in at.warning]
    assert "`brand_new_thing` (1)" in flagged[0] and "CHART_OF_ACCOUNTS_FILE" in flagged[0]
    assert "topup" not in flagged[0]  # a documented category has its own account
    batches = next(d.value for d in at.dataframe if "suspense" in d.value.columns)
    assert sorted(batches["suspense"]) == [0, 1]


def test_bank_tab_reports_an_account_without_a_statement(seeded: dict[str, Any]) -> None:
    at = _app("payouts_books.py", seeded["actor"])
    assert not at.exception, at.exception
    no_statement = next(m for m in at.metric if m.label == "Accounts without a statement")
    assert no_statement.value == "1"
    assert any("No bank statement imported for acct_1Conn (1 payouts)" in i.value for i in at.info)
    per_account = next(d.value for d in at.dataframe if "statement" in d.value.columns)
    got = dict(zip(per_account["account"], per_account["statement"], strict=True))
    assert got == {"platform": "imported", "acct_1Conn": "no statement imported"}
    assert at.selectbox(key="bank_account").options == ["platform", "acct_1Conn"]


def test_lifecycle_is_read_from_the_books_job_never_computed_on_a_render(
    seeded: dict[str, Any],
) -> None:
    at = _app("payouts_books.py", seeded["actor"])
    assert not at.exception, at.exception
    mrr = next(m for m in at.metric if m.label == "MRR")
    assert mrr.value == "$50.00"  # sub_1: one seat at $50 a month, as the books job stored it
    with seeded["Session"].begin() as session:
        session.execute(delete(BooksReadModel))
    at = _app("payouts_books.py", seeded["actor"])
    assert not at.exception, at.exception
    assert not any(m.label == "MRR" for m in at.metric)
    assert any("computed by the hourly `books` job" in i.value for i in at.info)


def test_drift_page_opens_a_task_for_an_item(seeded: dict[str, Any]) -> None:
    at = _app("drift.py", seeded["actor"])
    assert not at.exception, at.exception
    summary = at.dataframe[0].value
    counts = dict(zip(summary["check"], summary["count"], strict=True))
    assert counts["crm_missing_customer"] == 1 and counts["crm_no_owner"] == 1
    at.selectbox(key="drift_check").set_value("crm_missing_customer").run()
    at.button(key="drift_task").click().run()
    assert not at.exception, at.exception
    assert any("Task #" in s.value for s in at.success)
    with seeded["Session"]() as session:
        task = session.scalar(select(ActionRequest).where(ActionRequest.target_id == "cus_2"))
    assert task is not None and task.action_type == "create_task"


def test_reports_page_prepares_a_download(seeded: dict[str, Any]) -> None:
    at = _app("reports.py", seeded["actor"])
    assert not at.exception, at.exception
    at.selectbox(key="report_name").set_value("tax").run()
    at.date_input(key="report_from").set_value(date(2026, 1, 1)).run()
    at.selectbox(key="report_format").set_value("pdf")
    at.button(key="report_prepare").click().run()
    assert not at.exception, at.exception
    prepared = at.session_state["report_file"]
    assert prepared.data.startswith(b"%PDF") and prepared.rows == 1


def test_a_viewer_reads_drift_without_refresh_or_task_buttons(seeded: dict[str, Any]) -> None:
    with seeded["Session"].begin() as s:
        viewer = make_user(s, "drift_viewer", "viewer")
    at = _app("drift.py", viewer)
    assert not at.exception, at.exception
    assert at.button(key="drift_snapshot").disabled
    assert at.button(key="drift_task").disabled
