"""AppTest: asking for actions from the page where the need appears — a failed-payment case (retry,
credit), the Disputes page (refund before a dispute, joining an open request) and Drift (pause
access for access active on a canceled subscription). Viewers see no form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db import make_engine, make_sessionmaker, migrate
from core.drift.checks import take_snapshot
from core.imports import IMPORTERS
from core.models.governance import ActionRequest
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from dashboard.format import md_text
from tests.conftest import settings_for
from tests.support import disputes as objects
from tests.support.governance import make_user
from tests.support.recovery import event, failed_charge, invoice

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_780_000_000


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE", "OPENAI_API_KEY", "LEDGERDESK_SANDBOX"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    load_handler_modules()
    with Session.begin() as s:
        people = {
            "op": make_user(s, "otto", "operator"),
            "op2": make_user(s, "olga", "operator"),
            "viewer": make_user(s, "vera", "viewer"),
        }
        ingest_events(
            s,
            [
                event("charge.failed", failed_charge("ch_f", pi="pi_f", customer="cus_f"), T0),
                event(
                    "invoice.payment_failed",
                    invoice("in_f", pi="pi_f", customer="cus_f", amount=4_900, name="Fay Ltd"),
                    T0 + 1,
                ),
            ],
        )
        cus = objects.customer(s)
        big = objects.charge(s, cus, 166_200, T0)
        objects.put(s, {"id": "sub_gone", "object": "subscription", "status": "canceled",
                        "customer": "cus_gone"})  # fmt: skip
        IMPORTERS["entitlements"].run(
            s, b"Stripe Customer ID,Subscription ID,Access\ncus_gone,sub_gone,active\n"
        )
        take_snapshot(s, settings_for(url, tmp_path))
    process_batch(Session)
    yield {"Session": Session, "big": big["id"], **people}
    st.cache_resource.clear()
    engine.dispose()


def _app(page: str, actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=60)
    at.session_state["ledgerdesk_actor"] = actor
    return at.run()


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _actions(Session: Any) -> list[ActionRequest]:
    with Session() as s:
        return list(s.scalars(select(ActionRequest).order_by(ActionRequest.id)))


def test_a_case_asks_for_a_retry_and_a_credit_with_the_rule_shown(seeded: dict[str, Any]) -> None:
    at = _app("failed_payments.py", seeded["op"])
    assert not at.exception, at.exception
    case_id = at.selectbox(key="rf_case").value
    at.selectbox(key=f"rf_need_{case_id}").set_value("retry_invoice_payment").run()
    assert "**Approvals needed:** one" in _text(at) and "whatever the amount" in _text(at)
    at.text_input(key=f"rf_{case_id}_retry_invoice_payment_reason").input("new card on file")
    at.button(key=f"rf_{case_id}_retry_invoice_payment_submit").click().run()
    assert not at.exception, at.exception
    assert any("Requested as action #" in s.value and "in_f" in s.value for s in at.success)

    at.selectbox(key=f"rf_need_{case_id}").set_value("customer_credit").run()
    at.number_input(key=f"rf_{case_id}_customer_credit_amount").set_value(600.0).run()
    text = _text(at)
    assert f"**Amount:** {md_text('$600.00')}" in text and "**Approvals needed:** 2" in text
    assert md_text("above $500.00 needs two approvers") in text
    at.text_input(key=f"rf_{case_id}_customer_credit_reason").input("goodwill for the outage")
    at.button(key=f"rf_{case_id}_customer_credit_submit").click().run()
    assert not at.exception, at.exception
    retry, credit = _actions(seeded["Session"])
    assert (retry.action_type, retry.target_id, retry.requested_by) == (
        "retry_invoice_payment",
        "in_f",
        "otto",
    )
    assert (credit.action_type, credit.target_id, credit.amount, credit.currency) == (
        "customer_credit",
        "cus_f",
        60_000,
        "usd",
    )
    assert credit.required_approvals == 2


def test_a_viewer_sees_no_request_forms(seeded: dict[str, Any]) -> None:
    at = _app("failed_payments.py", seeded["viewer"])
    assert not at.exception, at.exception
    assert not [b for b in at.button if str(b.key).endswith("_submit")]
    assert not [s for s in at.selectbox if str(s.key).startswith("rf_need_")]
    disputes = _app("disputes.py", seeded["viewer"])
    assert not disputes.exception, disputes.exception
    assert not [t for t in disputes.text_input if t.key == "refund_charge"]
    drift = _app("drift.py", seeded["viewer"])
    drift.selectbox(key="drift_check").set_value("entitlement_active_but_canceled").run()
    assert not [b for b in drift.button if str(b.key).endswith("_submit")]


def test_refund_before_a_dispute_from_a_charge_id_and_a_second_ask_joins(
    seeded: dict[str, Any],
) -> None:
    charge = seeded["big"]
    at = _app("disputes.py", seeded["op"])
    assert not at.exception, at.exception
    at.text_input(key="refund_charge").input(charge).run()
    text = _text(at)
    assert f"**Amount:** {md_text('$1,662.00')}" in text and "**Approvals needed:** 2" in text
    at.number_input(key=f"refund_{charge}_amount").set_value(2000.0).run()
    assert any("Only $1,662.00" in e.value for e in at.error)
    at.number_input(key=f"refund_{charge}_amount").set_value(None).run()
    at.button(key=f"refund_{charge}_submit").click().run()
    assert any("reason is required" in e.value for e in at.error)
    at.text_input(key=f"refund_{charge}_reason").input("charged twice").run()
    at.button(key=f"refund_{charge}_submit").click().run()
    assert not at.exception, at.exception
    [action] = _actions(seeded["Session"])
    assert (action.amount, action.required_approvals) == (166_200, 2)

    other = _app("disputes.py", seeded["op2"])
    other.text_input(key="refund_charge").input(charge).run()
    assert any(f"Request #{action.id} for this is already open" in i.value for i in other.info)
    other.text_input(key=f"refund_{charge}_reason").input("customer wrote in").run()
    other.button(key=f"refund_{charge}_submit").click().run()
    assert any(f"joined the open request #{action.id}" in s.value for s in other.success)
    assert len(_actions(seeded["Session"])) == 1


def test_drift_proposes_pause_access_for_access_on_a_canceled_subscription(
    seeded: dict[str, Any],
) -> None:
    at = _app("drift.py", seeded["op"])
    assert not at.exception, at.exception
    at.selectbox(key="drift_check").set_value("entitlement_active_but_canceled").run()
    assert f"Proposed fix: pause access for {md_text('cus_gone')}" in _text(at)
    assert not [b for b in at.button if b.key == "drift_task"]  # not a generic task
    at.text_input(key="drift_pause_access_cus_gone_reason").input("canceled in Stripe").run()
    at.button(key="drift_pause_access_cus_gone_submit").click().run()
    assert not at.exception, at.exception
    assert any("Requested as action #" in s.value for s in at.success)
    [action] = _actions(seeded["Session"])
    assert (action.action_type, action.target_id, action.rule_id) == (
        "pause_access",
        "cus_gone",
        "drift.entitlement_active_but_canceled",
    )
