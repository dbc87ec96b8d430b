"""Set-based processing: events without work are marked together, pre-filters never drop work,
and a failing event is still retried alone while the rest of its batch is processed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select

from core.governance import audit
from core.models.recovery import RecoveryCase
from core.models.sync import Event
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from tests.support.recovery import event, invoice

T0 = 1_780_000_000
load_handler_modules()


def _store(Session: Any, events: list[dict[str, Any]]) -> None:
    with Session.begin() as s:
        ingest_events(s, events, source="webhook")


def test_failure_and_payment_in_one_batch_close_the_case_they_open(Session: Any) -> None:
    _store(
        Session,
        [
            event("invoice.payment_failed", invoice("in_same"), T0, event_id="evt_f"),
            event("invoice.paid", invoice("in_same", status="paid"), T0 + 60, event_id="evt_p"),
        ],
    )
    report = process_batch(Session)
    assert (report.claimed, report.processed) == (2, 2)
    with Session() as s:
        case = s.scalars(select(RecoveryCase)).one()
    assert (case.status, case.closed_reason) == ("recovered", "paid")


def test_events_without_work_cost_a_few_statements_and_a_failure_stays_alone(
    Session: Any, engine: Any
) -> None:
    quiet = [
        event("customer.updated", {"id": f"cus_{i}", "object": "customer"}, T0 + i)
        for i in range(40)
    ]
    paid_without_case = [
        event("invoice.paid", invoice(f"in_nocase{i}", status="paid"), T0 + 50 + i)
        for i in range(40)
    ]
    broken = event(
        "charge.dispute.created", {"id": "ch_x", "object": "charge"}, T0 + 45, event_id="evt_bad"
    )
    _store(Session, [*quiet, broken, *paid_without_case])
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        report = process_batch(Session)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert (report.claimed, report.processed, report.retrying) == (81, 80, 1)
    # The claim, the case look-up for the 40 payments, the failing event's savepoint and its
    # retry, one executemany marking 80 events: no statement per event.
    assert len(statements) < 15, statements
    with Session() as s:
        rows = dict(s.execute(select(Event.event_id, Event.status)).all())
        assert rows.pop("evt_bad") == "failed"
        assert set(rows.values()) == {"processed"}
        assert s.scalars(select(RecoveryCase)).all() == []


def test_audit_tail_read_once_per_batch_survives_a_rolled_back_event(Session: Any) -> None:
    with Session.begin() as s:
        audit.record(s, "system", "test.kept", "t:1", None, {"n": 1})
        try:
            with s.begin_nested():
                audit.record(s, "system", "test.undone", "t:2", None, {"n": 2})
                raise RuntimeError("this event fails")
        except RuntimeError:
            pass
        audit.record(s, "system", "test.kept", "t:3", None, {"n": 3})
    with Session() as s:
        result = audit.verify(s)
        assert result.ok, result.summary()
        assert result.checked == 2
