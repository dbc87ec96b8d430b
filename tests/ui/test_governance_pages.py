"""AppTest for the Approvals, Audit log and Users pages, and the sign-in gate of the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core.adapters.outbox import enqueue_chat, enqueue_email
from core.db import make_engine, make_sessionmaker, migrate
from core.governance import actions
from core.governance import queries as action_queries
from dashboard.auth import SESSION_KEY
from dashboard.format import md_text
from tests.support import disputes as f
from tests.support.governance import PASSWORD, make_refund_request, make_team

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    for name in (
        "STRIPE_API_KEY",
        "STRIPE_API_BASE",
        "LEDGERDESK_SANDBOX",
        "SMTP_URL",
        "SLACK_WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        team = make_team(s)
        refund = make_refund_request(
            s, team["operator"], "ch_ui_1", amount=4200, rule_id="refunds.duplicate"
        )
        message = actions.request_action(
            s,
            team["operator"],
            action_type="send_message",
            target_id="in_ui_1",
            params={
                "to": "pat@example.com",
                "subject": "Card update",
                "body": "Hello Pat",
            },
            reason="second reminder",
            rule_id="recovery.reminder.2",
            evidence={"customer_value": 99000},
        )
    return {
        "Session": Session,
        "team": team,
        "refund": refund.id,
        "message": message.id,
    }


def page(name: str, actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=30)
    at.session_state[SESSION_KEY] = actor
    return at.run()


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(str(c.value) for c in at.caption)


def test_approvals_shows_the_why_and_approves_a_message(world: dict[str, Any]) -> None:
    at = page("approvals.py", world["team"]["approver"])
    assert not at.exception
    assert [s.value for s in at.subheader][:2] == [
        md_text(f"#{world['refund']} Refund · ch_ui_1 · $42.00"),  # shown as typed
        md_text(f"#{world['message']} Send message · in_ui_1"),
    ]
    body = markdown(at)
    assert (
        "refunds.duplicate" in body
        and "2026.11.1+" in body
        and "customer asked for a refund" in body
    )
    at.text_input(key=f"reason-{world['message']}").input("wording is fine")
    at.button(key=f"approve-{world['message']}").click().run()
    assert not at.exception
    assert f"Action #{world['message']} is now approved." in [s.value for s in at.success]
    with world["Session"]() as s:
        assert action_queries.get_action(s, world["message"]).status == "approved"


def test_a_request_names_the_customer_formats_money_and_links_the_id(
    world: dict[str, Any],
) -> None:
    with world["Session"].begin() as s:
        cus = f.customer(s, name="Weber Logistics")
        charge = f.charge(s, cus, 175_100, 1_780_000_000)
        refund = make_refund_request(
            s,
            world["team"]["operator"],
            charge["id"],
            amount=175_100,
            rule_id="refunds.duplicate",
            params={"stripe_reason": "product_not_received"},
        ).id
    at = page("approvals.py", world["team"]["approver"])
    assert not at.exception
    heads = [h.value for h in at.subheader]
    assert md_text(f"#{refund} Refund · Weber Logistics · $1,751.00") in heads, heads
    card = "\n".join(c.value for c in at.caption if "Details:" in c.value or "In Stripe" in c.value)
    link = f"[`{charge['id']}`](https://dashboard.stripe.com/test/payments/{charge['id']})"
    assert f"In Stripe: {link}" in card  # the id sits beside the name, linked to Stripe
    assert f"charge: {link}" in card and "amount: \\$1,751\\.00" in card, card
    assert "stripe reason: Product not received" in card, card
    everything = markdown(at) + "\n".join(heads)
    assert "175100" not in everything and "amount=" not in everything
    assert "product_not_received" not in everything and "currency" not in everything


def test_a_money_move_asks_for_confirmation_in_a_dialog(world: dict[str, Any]) -> None:
    at = page("approvals.py", world["team"]["approver"])
    at.text_input(key=f"reason-{world['refund']}").input("duplicate charge confirmed")
    at.button(key=f"approve-{world['refund']}").click().run()
    with world["Session"]() as s:
        assert (
            action_queries.get_action(s, world["refund"]).status == "requested"
        )  # not yet: dialog open
    at.button(key=f"confirm-{world['refund']}").click().run()
    assert not at.exception
    with world["Session"]() as s:
        assert action_queries.get_action(s, world["refund"]).status == "approved"


def test_first_of_two_approvals_says_how_many_are_still_needed(world: dict[str, Any]) -> None:
    with world["Session"].begin() as s:
        big = make_refund_request(
            s, world["team"]["operator"], "ch_ui_big", amount=75_000, rule_id="refunds.duplicate"
        ).id
    at = page("approvals.py", world["team"]["approver"])
    at.text_input(key=f"reason-{big}").input("large duplicate confirmed")
    at.button(key=f"approve-{big}").click().run()
    at.button(key=f"confirm-{big}").click().run()
    assert not at.exception
    messages = [m.value for m in at.success]
    assert f"Action #{big}: approved by 1 of 2; waiting for 1 more approver." in messages, messages


def test_reject_requires_a_reason_and_the_requester_sees_nothing_to_approve(
    world: dict[str, Any],
) -> None:
    at = page("approvals.py", world["team"]["approver"])
    at.button(key=f"reject-{world['refund']}").click().run()
    assert any("reason is required" in e.value for e in at.error)
    mine = page("approvals.py", world["team"]["operator"])
    assert not mine.subheader and "Nothing awaits your decision" in mine.info[0].value
    viewer = page("approvals.py", world["team"]["viewer"])
    assert not viewer.subheader


def test_audit_log_filters_exports_and_flags_a_broken_chain(
    world: dict[str, Any],
) -> None:
    at = page("audit_log.py", world["team"]["admin"])
    assert not at.exception
    assert "audit chain intact" in at.success[0].value
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 7  # 5 users + 2 requests
    at.selectbox[0].select("operator").run()
    happened = list(at.dataframe[0].value["What happened"])
    assert happened == [
        "operator asked for an e-mail to a customer.",
        "operator asked for a refund of $42.00.",
    ], happened
    assert "{" not in " ".join(happened)  # sentences, not dictionaries
    at.selectbox[0].select("(all)").run()
    at.text_input[0].input("refund").run()
    assert list(at.dataframe[0].value["What happened"]) == [
        "operator asked for a refund of $42.00."
    ]
    at.text_input[0].input("42.00").run()
    assert list(at.dataframe[0].value["#"]) == [6]  # the refund request
    assert '"refund"' in at.json[1].value  # the stored record stays at hand (after)
    assert at.get("download_button")
    with world["Session"].begin() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 2"))
    st.cache_data.clear()
    broken = page("audit_log.py", world["team"]["admin"])
    assert "BROKEN at entry 2" in broken.error[0].value


def test_users_page_is_for_admins_and_adds_a_user(world: dict[str, Any]) -> None:
    denied = page("users.py", world["team"]["approver"])
    assert "Only admins" in denied.error[0].value
    at = page("users.py", world["team"]["admin"])
    assert not at.exception and "2026.11.1+" in markdown(at)
    rules = {r["action"]: r["two approvers above"] for _, r in at.dataframe[-1].value.iterrows()}
    assert rules["refund"] == "500.00 (any currency); ¥75,000; 700,000 KRW", rules
    at.text_input[0].input("newbie")
    at.button[0].click().run()
    assert not at.exception
    assert any("One-time password" in m.value for m in at.success)


def test_the_app_shows_only_the_sign_in_form_until_signed_in(
    world: dict[str, Any],
) -> None:
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=30).run()
    assert at.title[0].value == "Sign in to Ledgerdesk"
    at.text_input(key="sign_in_username").input("approver")
    at.text_input(key="sign_in_password").input("wrong password!")
    at.button[0].click().run()
    assert "Wrong username or password" in at.error[0].value
    at.text_input(key="sign_in_username").input("approver")
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state[SESSION_KEY].username == "approver"
    assert all(t.value != "Sign in to Ledgerdesk" for t in at.title)
    at.button(key="ledgerdesk_sign_out").click().run()
    assert SESSION_KEY not in at.session_state
    assert at.title[0].value == "Sign in to Ledgerdesk"


def test_outbox_labels_end_on_a_whole_word_and_name_the_recipient_below(
    world: dict[str, Any],
) -> None:
    long = (
        "Reminder (3d before the deadline). Weber Logistics — $98.00 — Unrecognized charge: "
        "evidence due Sun 06 Dec 2026 01:59 CET (2 d 23 h left). Dispute dp_bjPdJkobeLH3jezxZ65Evo"
    )
    with world["Session"].begin() as s:
        enqueue_chat(s, long, "reminder:1")
        enqueue_email(s, "blake@demo.example", "Card update", "Hello", "mail:1")
    at = page("outbox.py", world["team"]["admin"])
    assert not at.exception
    labels = [e.label for e in at.expander]
    chat = next(x for x in labels if "Reminder" in x)
    assert chat.endswith(" …") and len(chat) < 160, chat
    # a Material icon (Streamlit's own font), not an emoji a browser may lack
    assert chat.startswith(":material/schedule: \\#") and "⏳" not in chat, chat
    words = {w.strip(".,:;") for w in long.split()}
    shown = chat.removesuffix(" …").split(" · ", 2)[-1].replace("\\", "").split()
    assert shown and all(w.strip(".,:;") in words for w in shown), chat  # no word cut in two
    assert "team channel" not in chat and "blake@demo.example" not in " ".join(labels)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Chat to team channel · queued ") for c in captions), captions
    assert any(c.startswith("E\\-mail to blake@demo\\.example · queued") for c in captions)
