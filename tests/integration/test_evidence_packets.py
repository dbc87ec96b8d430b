"""Evidence packets per reason are pre-filled from the store, fit Stripe's budget and render as a PDF."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from core.disputes.evidence.checklist import TEXT_LIMIT
from core.disputes.evidence.packet import build_packet, save_packet
from core.disputes.evidence.pdf import render_pdf
from core.disputes.handlers import apply_dispute
from core.disputes.settings import DisputeConfig
from core.imports import IMPORTERS
from core.imports.csv_import import run_import
from tests.support import disputes as f

NOW = f.ts(2026, 6, 1, 12)
CFG = DisputeConfig(
    alert_threshold=10**12,
    default_owner="owner@example.com",
    refund_policy_text="Refunds within 14 days.",
    cancellation_policy_text="Cancel any time; no charges after cancelling.",
)


def _history(session: Any, name: str = "Ada Lovelace") -> tuple[dict[str, Any], dict[str, Any]]:
    cus = f.customer(session, name=name)
    for months in (5, 4, 3, 2):
        f.charge(session, cus, 4_900, NOW - months * 30 * f.DAY)
    disputed = f.charge(session, cus, 12_345, NOW - 20 * f.DAY)
    f.invoice(session, disputed)
    return cus, disputed


def _import(session: Any, name: str, text: str) -> None:
    result = run_import(session, text.encode(), IMPORTERS[name].schema, IMPORTERS[name].apply)
    assert result.error_count == 0, result.errors


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (
            "fraudulent",
            {
                "customer_name",
                "customer_email_address",
                "billing_address",
                "access_activity_log",
                "customer_purchase_ip",
                "uncategorized_text",
                "product_description",
            },
        ),
        (
            "product_not_received",
            {
                "shipping_carrier",
                "shipping_tracking_number",
                "shipping_date",
                "shipping_address",
                "access_activity_log",
                "service_date",
            },
        ),
        ("duplicate", {"duplicate_charge_id", "duplicate_charge_explanation"}),
        ("subscription_canceled", {"cancellation_policy_disclosure", "cancellation_rebuttal"}),
        ("credit_not_processed", {"refund_policy_disclosure", "refund_refusal_explanation"}),
        ("product_unacceptable", {"product_description", "uncategorized_text"}),
        ("general", {"uncategorized_text", "customer_name"}),
    ],
)
def test_packet_per_reason_has_the_expected_fields(
    Session: Any, reason: str, expected: set[str]
) -> None:
    with Session.begin() as session:
        cus, disputed = _history(session)
        if reason == "duplicate":  # the same amount charged twice in a week
            f.charge(session, cus, 12_345, NOW - 22 * f.DAY)
        _import(
            session,
            "usage",
            f"stripe customer id,timestamp,event,ip\n{cus['id']},2026-05-20 10:00,login,203.0.113.7\n"
            f"{cus['id']},2026-05-25 11:00,export report,203.0.113.7\n",
        )
        _import(
            session,
            "shipping",
            f"carrier,tracking number,ship date,charge id,address\n"
            f"UPS,1Z999,2026-05-13,{disputed['id']},12 Analytical Row London\n",
        )
        _import(
            session,
            "tickets",
            f"ticket id,stripe customer id,status,subject,created\nT-1,{cus['id']},solved,Where is my export?,2026-05-21\n",
        )
        case, created = apply_dispute(
            session,
            f.dispute(disputed, reason=reason, due_by=NOW + 5 * f.DAY),
            event_created=NOW - f.DAY,
            cfg=CFG,
        )
        assert created and case.customer_id == cus["id"] and case.owner == "owner@example.com"
        packet = build_packet(session, case, CFG, NOW)
    assert expected <= set(packet.evidence), expected - set(packet.evidence)
    assert packet.evidence["customer_name"] == "Ada Lovelace"
    assert "earlier payment(s) that were never disputed" in packet.evidence["uncategorized_text"]
    assert "Where is my export?" in packet.evidence["uncategorized_text"]
    assert packet.template_version == "v1" and packet.template_id.startswith("disputes/")
    if reason == "duplicate":
        assert packet.evidence["duplicate_charge_id"].startswith("ch_")
    assert packet.missing == []
    assert packet.text_chars <= TEXT_LIMIT


def test_missing_items_are_reported_and_the_case_scored(Session: Any) -> None:
    with Session.begin() as session:
        cus = f.customer(session, name="Bob")
        ch = f.charge(session, cus, 2_000, NOW - 3 * f.DAY)
        case, _ = apply_dispute(
            session,
            f.dispute(ch, reason="fraudulent", due_by=NOW + 2 * f.DAY),
            event_created=NOW,
            cfg=CFG,
        )
        packet = build_packet(session, case, CFG, NOW)
        missing = set(packet.missing)
        assert {
            "Access or usage log after the purchase",
            "Prior undisputed payments by the same customer",
        } <= missing
        assert (
            case.recommendation == "accept"
            and case.expected_value is not None
            and case.expected_value < 0
        )
        assert 0 < case.evidence_completeness < 1 and case.priority > 0
        assert case.priority_explanation and case.recommendation_explanation


def test_text_stays_within_stripes_limit(Session: Any) -> None:
    with Session.begin() as session:
        cus, disputed = _history(session)
        lines = "".join(
            f"{cus['id']},2026-05-{12 + i % 15:02d} {i % 24:02d}:{i % 60:02d},download,198.51.100.{i % 250},"
            f"{'x' * 900}-{i}\n"
            for i in range(400)
        )
        _import(session, "usage", "stripe customer id,timestamp,event,ip,detail\n" + lines)
        case, _ = apply_dispute(
            session, f.dispute(disputed, due_by=NOW + 5 * f.DAY), event_created=NOW, cfg=CFG
        )
        packet = build_packet(session, case, CFG, NOW)
        row = save_packet(session, case, packet, "tester")
        assert (
            save_packet(session, case, packet, "tester").id == row.id
        )  # same content, same version
    assert packet.text_chars <= TEXT_LIMIT
    assert row.version == 1 and row.text_chars == packet.text_chars


def test_pdf_opens_and_shows_name_and_amounts(Session: Any) -> None:
    with Session.begin() as session:
        _cus, disputed = _history(session, name="Zoë Ångström")
        case, _ = apply_dispute(
            session, f.dispute(disputed, due_by=NOW + 5 * f.DAY), event_created=NOW, cfg=CFG
        )
        packet = build_packet(session, case, CFG, NOW)
    data = render_pdf(packet, now=datetime(2026, 6, 1, tzinfo=UTC))
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 1
    assert "Zoë Ångström" in text
    assert "$123.45" in text  # disputed amount
    assert "$49.00" in text  # earlier charges
    assert case.dispute_id in text


def _usage_rows(customer_id: str, rows: int) -> str:
    """`rows` usage lines after the disputed charge, each ~150 characters once rendered."""
    start = datetime(2026, 5, 13, tzinfo=UTC).timestamp()
    return "stripe customer id,timestamp,event,ip,detail\n" + "".join(
        f"{customer_id},"
        f"{datetime.fromtimestamp(start + i * 3_000, UTC):%Y-%m-%d %H:%M},"
        f"download,198.51.100.{i % 250},report export #{i:04d} "
        "of the monthly ledger for all accounts in CSV and PDF with attachments\n"
        for i in range(rows)
    )


def test_500_usage_rows_are_cut_to_stripes_field_limit_and_the_cut_is_shown(
    Session: Any,
) -> None:
    from core.disputes.actions import request_submission
    from core.disputes.evidence.checklist import FIELD_LIMITS, cuts_in, over_limits
    from tests.support.governance import make_user

    with Session.begin() as session:
        cus, disputed = _history(session)
        _import(session, "usage", _usage_rows(cus["id"], 500))
        case, _ = apply_dispute(
            session, f.dispute(disputed, due_by=NOW + 5 * f.DAY), event_created=NOW, cfg=CFG
        )
        packet = build_packet(session, case, CFG, NOW)
        full = packet.uncut["access_activity_log"]
        assert len(full.split("\n")) == 500 and len(full) > 70_000  # what used to be sent
        assert over_limits(packet.evidence) == []
        for field_name, limit in FIELD_LIMITS.items():
            assert len(packet.evidence.get(field_name, "")) <= limit, field_name
        log = packet.evidence["access_activity_log"]
        assert log.split("\n")[-1] == full.split("\n")[-1]  # the newest use is kept
        [cut] = packet.cuts
        assert cut.field == "access_activity_log" and cut.removed_lines > 300
        assert cuts_in(packet.evidence) == packet.cuts
        # The approver sees the cut on the request.
        save_packet(session, case, packet, "tester")
        action = request_submission(
            session, make_user(session, "olga", "operator"), case.dispute_id, CFG
        )
        [shown] = action.evidence["cut_to_fit"]
        assert shown == cut.describe() and "older lines" in shown
        assert action.params["evidence"]["access_activity_log"] == log
    # ...and so does the PDF, which also carries the whole log.
    reader = PdfReader(io.BytesIO(render_pdf(packet, now=datetime(2026, 6, 1, tzinfo=UTC))))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Cut to fit Stripe's limits" in text and "older lines" in text
    assert "report export #0000" in text and "report export #0499" in text
