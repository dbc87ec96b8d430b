"""AppTest: the Failed payments page (queue, case, draft → approval request, analytics) and Imports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db import make_engine, make_sessionmaker, migrate
from core.imports import IMPORTERS
from core.models.governance import ActionRequest
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from tests.support.governance import make_user
from tests.support.recovery import event, failed_charge, invoice

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_780_000_000


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    st.cache_resource.clear()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    load_handler_modules()
    with Session.begin() as session:
        op = make_user(session, "otto", "operator")
        viewer = make_user(session, "vera", "viewer")
        IMPORTERS["crm"].run(
            session,
            b"Stripe Customer ID,Account Name,Owner,Segment,MRR\n"
            b"cus_big,Big Co,Ana,Enterprise,9000\n"
            b"cus_small,Small Ltd,,mid_market,90\n",
        )
        ingest_events(
            session,
            [
                event(
                    "charge.failed",
                    failed_charge("ch_s", pi="pi_s", customer="cus_small", decline="expired_card"),
                    T0,
                ),
                event(
                    "invoice.payment_failed",
                    invoice(
                        "in_small",
                        pi="pi_s",
                        customer="cus_small",
                        amount=900,
                        name="Small Ltd",
                    ),
                    T0 + 1,
                ),
                event(
                    "charge.failed",
                    failed_charge(
                        "ch_b",
                        pi="pi_b",
                        customer="cus_big",
                        amount=250_000,
                        decline="do_not_honor",
                    ),
                    T0,
                ),
                event(
                    "invoice.payment_failed",
                    invoice(
                        "in_big",
                        pi="pi_b",
                        customer="cus_big",
                        amount=250_000,
                        name="Big Co",
                    ),
                    T0 + 1,
                ),
            ],
        )
    process_batch(Session)
    yield {"Session": Session, "op": op, "viewer": viewer}
    st.cache_resource.clear()
    engine.dispose()


def _app(page: str, actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=60)
    at.session_state["ledgerdesk_actor"] = actor
    return at.run()


def test_queue_orders_by_priority_and_case_shows_context_and_rules(
    seeded: dict[str, Any],
) -> None:
    at = _app("failed_payments.py", seeded["op"])
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["Customer"]) == [
        "Big Co",
        "Small Ltd",
    ]  # amount × value × urgency
    text = " ".join(m.value for m in at.markdown)
    assert "REC-HIGH-VALUE" in " ".join(str(t.value) for t in at.table)
    assert "Recommended next step" in text and "Timeline" in text
    assert at.selectbox(key="rf_case").value is not None


def test_queue_and_case_speak_in_labels_with_invoice_numbers_and_linked_ids(
    seeded: dict[str, Any],
) -> None:
    at = _app("failed_payments.py", seeded["op"])
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["Segment"]) == ["Enterprise", "Mid market"]
    assert "mid_market" not in " ".join(at.multiselect(key="rf_segment").options)
    assert all("_" not in step and step[:1].isupper() for step in table["Next step"])
    picker = at.selectbox(key="rf_case")
    assert picker.options[0] == "#2 · Big Co · invoice INV-0001 · $2,500.00", picker.options
    assert all("in_" not in o for o in picker.options)
    head = at.subheader[0].value
    assert "invoice INV\\-0001" in head and "in\\_big" not in head, head
    text = "\n".join(m.value for m in at.markdown)
    base = "https://dashboard.stripe.com/test"
    assert (
        f"**In Stripe:** invoice INV\\-0001 [`in_big`]({base}/invoices/in_big) · "
        f"customer [`cus_big`]({base}/customers/cus_big)"
    ) in text, text
    timeline = [m.value for m in at.markdown if "Attempt 1 failed" in m.value]
    assert timeline and all(
        "do_not_honor" not in t and "_" not in t.split("failed", 1)[1] for t in timeline
    ), timeline
    assert any("Issuer refused\\: the issuer declined the card" in t for t in timeline), timeline
    assert "segment Enterprise" in text and "Recommended next step:** " in text
    assert "Recommended next step:** Personal follow\\-up" in text, text  # REC-HIGH-VALUE
    for metric in at.metric:  # short enough not to be cut with "…" in a quarter of the page
        assert len(str(metric.value)) <= 20, (metric.label, metric.value)


def test_edit_and_request_approval_from_the_page(seeded: dict[str, Any]) -> None:
    at = _app("failed_payments.py", seeded["op"])
    at.multiselect(key="rf_bucket").set_value(["card_data"]).run()
    assert list(at.dataframe[0].value["Customer"]) == ["Small Ltd"]
    body = next(a for a in at.text_area if a.key.startswith("body_"))
    body.set_value(body.value + "\n\nP.S. edited by otto").run()
    at.button[[b.label for b in at.button].index("Request approval to send")].click().run()
    assert not at.exception, at.exception
    assert any("waits for an approver" in s.value for s in at.success)
    with seeded["Session"]() as s:
        action = s.scalars(select(ActionRequest)).one()
        assert action.dedupe_key == "recovery:in_small:1:email"
        assert action.requested_by == "otto" and action.params["to"] == "ana@acme.io"


def test_viewer_reads_the_draft_without_buttons_to_edit_or_send(seeded: dict[str, Any]) -> None:
    # (core refuses a viewer's request whatever the page shows: tests/integration/test_recovery_send)
    at = _app("failed_payments.py", seeded["viewer"])
    assert not at.exception, at.exception
    labels = [b.label for b in at.button]
    assert not {"Request approval to send", "Save edit", "Draft it"} & set(labels), labels
    assert not at.text_area and any(t.value.startswith("email: ") for t in at.text)
    assert any("for operators and above" in c.value for c in at.caption)


def test_analytics_tab_renders(seeded: dict[str, Any]) -> None:
    at = _app("failed_payments.py", seeded["op"])
    assert not at.exception
    assert any(m.label == "MRR at risk" for m in at.metric)


def test_imports_page_lists_every_registered_importer(seeded: dict[str, Any]) -> None:
    at = _app("imports.py", seeded["op"])
    assert not at.exception, at.exception
    assert set(at.radio(key="imp_kind").options) >= {IMPORTERS[n].title for n in IMPORTERS}


def test_ai_personalisation_and_other_channel_drafts_from_the_page(
    seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.models.recovery import RecoveryDraft
    from tests.support.openai_stub import running_openai_stub

    with running_openai_stub() as stub:
        # an OpenAI-compatible endpoint on loopback, reached through the real openai client
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-stub")
        monkeypatch.setenv("AI_BRIEF_ROLES", "none")  # the rewrite is tested: briefs stay templates
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        st.cache_resource.clear()
        stub.replies = [
            lambda body: {
                "parts": __import__("json").loads(body["messages"][1]["content"])["parts"]
            }
        ]
        at = _app("failed_payments.py", seeded["op"])
        assert not at.exception, at.exception
        at.multiselect(key="rf_bucket").set_value(["card_data"]).run()
        ai = next(b for b in at.button if b.label == "Personalise with AI")
        ai.click().run()
        assert not at.exception, at.exception
        assert len(stub.requests) == 1
        at.selectbox(
            key=next(s.key for s in at.selectbox if s.key.startswith("new_ch_"))
        ).set_value("chat").run()
        next(b for b in at.button if b.label == "Draft it").click().run()
        assert not at.exception, at.exception
    with seeded["Session"]() as s:
        drafts = s.scalars(select(RecoveryDraft).where(RecoveryDraft.created_by == "otto")).all()
        assert sorted((d.channel, d.model) for d in drafts) == [
            ("chat", None),
            ("email", "gpt-4o-mini"),
        ]


def test_imports_page_upload_loads_rows_and_reports_bad_lines(seeded: dict[str, Any]) -> None:
    at = _app("imports.py", seeded["op"])
    assert not at.exception, at.exception
    # the upload widget is not driven here: the core call behind its button is, with roles
    with seeded["Session"].begin() as s:
        result = IMPORTERS["tickets"].run_for(
            s,
            seeded["op"],
            b"Id,Requester email,Subject,Status,Created\n1,a@x.io,Hi,open,2026-11-01\n",
        )
    assert result.inserted == 1
    from core.errors import PermissionDenied

    with seeded["Session"].begin() as s, pytest.raises(PermissionDenied):
        IMPORTERS["crm"].run_for(s, seeded["viewer"], b"email\na@x.io\n")


def test_a_rejected_ai_rewrite_shows_the_template_and_why(
    seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from tests.support.openai_stub import running_openai_stub

    def hostile(body: dict[str, Any]) -> dict[str, Any]:
        parts = json.loads(body["messages"][1]["content"])["parts"]
        closing = "[Pay here](https://evil.example/pay) and we r\u0435fund you.\n\nThanks"
        return {"parts": {**parts, "free_closing": closing}}

    with running_openai_stub() as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-stub")
        monkeypatch.setenv("AI_BRIEF_ROLES", "none")  # the rewrite is tested: briefs stay templates
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        st.cache_resource.clear()
        stub.replies = [hostile]
        at = _app("failed_payments.py", seeded["op"])
        at.multiselect(key="rf_bucket").set_value(["card_data"]).run()
        assert [t.value for t in at.text] == ["Approved template."]
        next(b for b in at.button if b.label == "Personalise with AI").click().run()
        assert not at.exception, at.exception
    notes = [t.value for t in at.text]
    assert len(notes) == 1 and notes[0].startswith(
        "⚠ AI rewrite not used; the approved template is kept. Why: rewrite rejected:"
    )
    assert "adds markup" in notes[0] and "adds a promise" in notes[0] and "link" in notes[0]
    body = next(a for a in at.text_area if a.key.startswith("body_")).value
    assert "evil.example" not in body and "It only takes a minute" in body
    # the quoted rewrite is shown as text, never rendered as a link
    assert not any("evil.example" in m.value for m in [*at.markdown, *at.caption])
