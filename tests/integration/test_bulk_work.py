"""Bulk work: approve many one-approver requests of one type with one reason (each its own
approval, each checked), assign many recovery cases at once, export any queue as CSV / XLSX
through the report writers. Real SQLite and PostgreSQL."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.errors import InputError, PermissionDenied
from core.governance import actions
from core.governance.bulk import approve_many
from core.models.governance import Approval, AuditEntry
from core.models.recovery import RecoveryCase
from core.recovery.assign import assign_cases
from core.reports.queues import QUEUES, export_queue
from tests.support.governance import make_refund_request, make_team


def message(s: Any, requester: Any, n: int) -> int:
    return actions.request_action(
        s,
        requester,
        action_type="send_message",
        target_id=f"in_bulk_{n}",
        params={"to": f"c{n}@example.com", "subject": "Your card", "body": "Hello"},
        reason=f"reminder {n}",
    ).id


def test_one_reason_approves_each_request_on_its_own(Session: Any) -> None:
    with Session.begin() as s:
        team = make_team(s)
        theirs = [message(s, team["operator"], n) for n in range(3)]
        mine = message(s, team["approver"], 9)  # the approver's own: four eyes refuse it
    with Session.begin() as s:
        outcomes = approve_many(s, team["approver"], [*theirs, mine], "templates are right")
    assert [(o.action_id, o.outcome) for o in outcomes] == [
        *[(i, "approved") for i in theirs],
        (mine, "refused"),
    ]
    assert "someone else must decide" in outcomes[-1].note
    with Session() as s:
        for action_id in theirs:
            [approval] = s.scalars(select(Approval).where(Approval.action_id == action_id)).all()
            assert (approval.username, approval.reason) == ("approver", "templates are right")
            audited = s.scalars(
                select(AuditEntry.action).where(AuditEntry.target == f"action:{action_id}")
            ).all()
            assert "action.approved" in audited
        assert s.scalar(select(func.count()).where(Approval.action_id == mine)) == 0
    with Session.begin() as s:  # again: already decided, nothing recorded twice
        again = approve_many(s, team["approver"], theirs, "templates are right")
        assert {o.outcome for o in again} == {"refused"}
        assert s.scalar(select(func.count()).select_from(Approval)) == 3


def test_two_approver_requests_are_left_out_and_types_are_not_mixed(Session: Any) -> None:
    with Session.begin() as s:
        team = make_team(s)
        small = make_refund_request(s, team["operator"], "ch_bulk_1", amount=4000).id
        big = make_refund_request(s, team["operator"], "ch_bulk_2", amount=90000).id
        note = message(s, team["operator"], 1)
    with Session.begin() as s, pytest.raises(InputError, match="one type"):
        approve_many(s, team["approver"], [small, note], "ok")
    with Session.begin() as s, pytest.raises(InputError, match="reason is required"):
        approve_many(s, team["approver"], [small], "  ")
    with Session.begin() as s:
        outcomes = approve_many(s, team["approver"], [small, big], "duplicate charges")
    assert [(o.action_id, o.outcome) for o in outcomes] == [(small, "approved"), (big, "excluded")]
    assert "two approvers" in outcomes[1].note
    with Session() as s:
        assert s.scalar(select(func.count()).where(Approval.action_id == big)) == 0
    with Session.begin() as s:  # a viewer gets a refusal per request, nothing recorded
        [refused] = approve_many(s, team["viewer"], [note], "ok")
        assert refused.outcome == "refused"
        assert s.scalar(select(func.count()).where(Approval.action_id == note)) == 0


def case(n: int, **extra: Any) -> RecoveryCase:
    fields: dict[str, Any] = {
        "invoice_id": f"in_q_{n}",
        "customer_name": f"Customer {n}",
        "customer_email": f"c{n}@example.com",
        "currency": "usd",
        "amount_due": 175100,
        "amount_remaining": 175100,
        "first_failed_at": 1_780_000_000,
        "last_event_created": 1_780_000_000,
    }
    return RecoveryCase(**(fields | extra))


def test_cases_are_assigned_in_bulk_each_audited(Session: Any) -> None:
    with Session.begin() as s:
        team = make_team(s)
        s.add_all([case(n) for n in range(4)])
    with Session() as s:
        ids = list(s.scalars(select(RecoveryCase.id).order_by(RecoveryCase.id)))
    with Session.begin() as s, pytest.raises(PermissionDenied):
        assign_cases(s, team["viewer"], ids, "kim@example.com")
    with Session.begin() as s, pytest.raises(InputError, match="not an e-mail"):
        assign_cases(s, team["operator"], ids, "kim")
    with Session.begin() as s:
        assert assign_cases(s, team["operator"], ids[:3], " Kim@Example.com ") == 3
    with Session.begin() as s:
        assert assign_cases(s, team["operator"], ids[:3], "kim@example.com") == 0
    with Session() as s:
        got = list(s.scalars(select(RecoveryCase.assigned_to).order_by(RecoveryCase.id)))
        assert got == ["kim@example.com"] * 3 + [None]
        assert s.scalar(select(func.count()).where(AuditEntry.action == "recovery.assigned")) == 3


def test_every_queue_exports_with_money_in_major_units_and_formulas_defused(
    Session: Any,
) -> None:
    with Session.begin() as s:
        team = make_team(s)
        s.add(case(1, customer_name='=HYPERLINK("http://x","y")'))
        make_refund_request(s, team["operator"], "ch_q_1", amount=4250)
    with Session.begin() as s, pytest.raises(PermissionDenied):
        export_queue(s, team["viewer"], "failed_payments", "csv")
    with Session.begin() as s:
        text = export_queue(s, team["operator"], "failed_payments", "csv").data.decode("utf-8-sig")
        assert ",1751.0," in text and "175100" not in text
        assert "'=HYPERLINK" in text
        approvals = export_queue(s, team["operator"], "approvals", "xlsx")
        for name in QUEUES:
            for fmt in ("csv", "xlsx"):
                produced = export_queue(s, team["operator"], name, fmt)
                assert produced.filename.endswith(f".{fmt}") and produced.data
    sheet = load_workbook(io.BytesIO(approvals.data)).active
    header = [c.value for c in sheet[1]]
    amount = sheet.cell(row=2, column=header.index("amount") + 1)
    assert amount.value == 42.5 and "$" in amount.number_format
    with Session() as s:
        assert s.scalar(select(func.count()).where(AuditEntry.action == "queue.exported")) == 10
