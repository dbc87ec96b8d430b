"""Batches are set-based and change nothing: the common case takes the same statements for 5
events of each kind as for 60, a batch leaves the cases one event at a time leaves, and one
poisoned event is retried and dead-lettered alone while its neighbours' work stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select

from core.models.recovery import RecoveryCase, RecoveryTimelineEntry
from core.models.sync import Event, SnapshotRefresh
from core.sync.ingest import ingest_events
from core.sync.processing import (
    EventContext,
    handles,
    load_handler_modules,
    process_batch,
    when_kept,
)
from core.sync.snapshots import store_fetched
from tests.support.recovery import event, failed_charge, failed_pi, invoice

T0 = 1_780_000_000
load_handler_modules()


def _store(Session: Any, events: list[dict[str, Any]]) -> None:
    with Session.begin() as s:
        ingest_events(s, events, source="webhook")


def _bare(inv: dict[str, Any]) -> dict[str, Any]:
    inv.pop("payments", None)  # as webhooks deliver the current shape
    return inv


def _common(n: int, tag: str, t0: int) -> list[dict[str, Any]]:
    """n events of each kind that has nothing to write: no handler, payments and voids of
    invoices without a case, subscription updates that are not cancellations, failed payments
    of no known invoice, and invoice failures whose payments are not stored yet."""
    out = []
    for i in range(n):
        k = f"{tag}{i:03d}"
        out += [
            event("customer.updated", {"id": f"cus_{k}", "object": "customer"}, t0 + i),
            event("invoice.paid", invoice(f"in_p{k}", status="paid"), t0 + i),
            event("invoice.voided", invoice(f"in_v{k}", status="void"), t0 + i),
            event(
                "customer.subscription.updated",
                {"id": f"sub_{k}", "object": "subscription", "status": "active"},
                t0 + i,
            ),
            event("charge.failed", failed_charge(f"ch_{k}", pi=f"pi_c{k}"), t0 + i),
            event("payment_intent.payment_failed", failed_pi(f"pi_{k}"), t0 + i),
            event("invoice.payment_failed", _bare(invoice(f"in_f{k}", pi=None)), t0 + i),
        ]
    return out


def _statements(Session: Any, engine: Any) -> tuple[list[str], Any]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        report = process_batch(Session)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    return statements, report


def test_the_common_case_takes_the_same_statements_at_any_batch_size(
    Session: Any, engine: Any
) -> None:
    counts = []
    for n, tag, t0 in ((5, "s", T0), (60, "l", T0 + 1000)):
        _store(Session, _common(n, tag, t0))
        statements, report = _statements(Session, engine)
        assert (report.claimed, report.processed, report.retrying) == (7 * n, 6 * n, n)
        counts.append(len(statements))
    # The claim, the bulk reads of the batch (cases, invoice payments), one insert asking for
    # the missing payments, one executemany for the failures, one for the rest.
    assert counts[0] == counts[1], counts
    assert counts[1] <= 12, counts
    with Session() as s:
        assert s.scalars(select(RecoveryCase)).all() == []
        asked = set(s.scalars(select(SnapshotRefresh.object_id)))
        failed = set(s.scalars(select(Event.event_id).where(Event.status == "failed")))
    assert asked == {f"in_f{t}{i:03d}#payments" for t, n in (("s", 5), ("l", 60)) for i in range(n)}
    assert len(failed) == 65


def _scenario(p: str) -> list[dict[str, Any]]:
    """Failures, their payments, a payment and noise for one namespace `p`."""
    cus = f"cus_{p}"

    def inv(i: str, **kw: Any) -> dict[str, Any]:
        return invoice(f"in_{p}{i}", customer=cus, email=f"{p}@example.com", **kw)

    def charge(i: str, pi: str) -> dict[str, Any]:
        return {**failed_charge(f"ch_{p}{i}", pi=f"pi_{p}{pi}"), "customer": cus}

    evs = [
        ("invoice.payment_failed", inv("1", pi=f"pi_{p}1")),
        ("payment_intent.payment_failed", failed_pi(f"pi_{p}1", charge=f"ch_{p}1")),
        ("charge.failed", charge("1", "1")),
        ("invoice.payment_failed", _bare(inv("2", pi=None))),
        ("charge.failed", charge("9", "9")),
        ("invoice.paid", inv("2", status="paid")),
        ("invoice.payment_failed", _bare(inv("3", pi=None))),
        ("payment_intent.payment_failed", failed_pi(f"pi_{p}3", charge=f"ch_{p}3")),
        ("customer.updated", {"id": cus, "object": "customer"}),
        ("invoice.payment_failed", inv("1", pi=f"pi_{p}1", attempt=2)),
        # an older attempt delivered late: its case exists, so its payments are not looked up
        ("invoice.payment_failed", _bare(inv("1", pi=None, attempt=1))),
        ("invoice.paid", inv("1", status="paid")),
    ]
    return [
        event(etype, obj, T0 + 10 * i, event_id=f"evt_{p}{i:02d}")
        for i, (etype, obj) in enumerate(evs)
    ]


def _outcome(Session: Any, p: str) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return value.replace(p, "") if isinstance(value, str) else value

    with Session() as s:
        cases = {
            plain(c.invoice_id): tuple(
                plain(getattr(c, f))
                for f in (
                    "status",
                    "closed_reason",
                    "bucket",
                    "payment_intent_id",
                    "charge_id",
                    "attempt_count",
                    "first_failed_at",
                    "route",
                )
            )
            for c in s.scalars(select(RecoveryCase).where(RecoveryCase.invoice_id.like(f"in_{p}%")))
        }
        timeline = sorted(
            (plain(inv_id), kind, plain(key))
            for inv_id, kind, key in s.execute(
                select(
                    RecoveryCase.invoice_id,
                    RecoveryTimelineEntry.kind,
                    RecoveryTimelineEntry.source_key,
                )
                .join(RecoveryCase, RecoveryCase.id == RecoveryTimelineEntry.case_id)
                .where(RecoveryCase.invoice_id.like(f"in_{p}%"))
            )
        )
        events = {
            plain(eid): (status, attempts)
            for eid, status, attempts in s.execute(
                select(Event.event_id, Event.status, Event.attempts).where(
                    Event.event_id.like(f"evt_{p}%")
                )
            )
        }
    return {"cases": cases, "timeline": timeline, "events": events}


def test_a_batch_leaves_what_batches_of_one_event_leave(Session: Any) -> None:
    with Session.begin() as s:  # in_3's payments are stored, in_2's are not
        store_fetched(
            s,
            [
                {
                    "id": f"inpay_in_{p}3",
                    "object": "invoice_payment",
                    "invoice": f"in_{p}3",
                    "is_default": True,
                    "status": "open",
                    "created": T0,
                    "payment": {"type": "payment_intent", "payment_intent": f"pi_{p}3"},
                }
                for p in ("xa", "xb")
            ],
            account="",
            fetched_at=T0,
        )
    _store(Session, _scenario("xa"))
    assert process_batch(Session).claimed == 12  # all of them in one batch
    _store(Session, _scenario("xb"))
    while process_batch(Session, limit=1).claimed:  # the same events, one batch each
        pass
    batched, alone = _outcome(Session, "xa"), _outcome(Session, "xb")
    assert batched == alone
    # What the batch had to link while it ran: in_1's failed intent, and in_3's (through its
    # stored payments), each named by no invoice field of its own.
    keys = {key for _, _, key in batched["timeline"]}
    assert {"evt_01", "evt_07", "evt_10"} <= keys, batched["timeline"]
    assert batched["cases"]["in_1"][0] == "recovered"
    assert batched["events"]["evt_03"] == ("failed", 1)  # in_2 waits for its payments


def test_a_poisoned_event_is_retried_then_dead_alone_while_its_neighbours_are_processed(
    Session: Any,
) -> None:
    poisoned = event(
        "charge.dispute.created", {"id": "ch_bad", "object": "charge"}, T0 + 5, event_id="evt_bad"
    )
    before = event("invoice.payment_failed", invoice("in_before", pi="pi_b"), T0)
    after = event("invoice.payment_failed", invoice("in_after", pi="pi_a"), T0 + 10)
    _store(Session, [before, poisoned, after, *_common(3, "q", T0 + 20)])
    report = process_batch(Session, max_attempts=2)
    assert (report.processed, report.retrying, report.dead) == (2 + 18, 1 + 3, 0)
    later = datetime.now(UTC) + timedelta(hours=3)
    report = process_batch(Session, max_attempts=2, now=later)
    # The poisoned event is dead after its second attempt; the waiting invoice failures are
    # retried longer (they wait for a fetch), and nothing else was claimed twice.
    assert (report.claimed, report.dead, report.retrying) == (4, 1, 3)
    with Session() as s:
        rows = {e.event_id: e for e in s.scalars(select(Event))}
        cases = set(s.scalars(select(RecoveryCase.invoice_id)))
    assert rows["evt_bad"].status == "dead" and rows["evt_bad"].attempts == 2
    assert "carries no dispute object" in (rows["evt_bad"].last_error or "")
    assert cases == {"in_before", "in_after"}
    assert rows[before["id"]].status == rows[after["id"]].status == "processed"


_KEPT: list[str] = []


@handles("test_only.kept")
def _remember_when_kept(session: Any, ev: EventContext) -> None:
    when_kept(session, lambda: _KEPT.append(ev.event_id))
    if ev.obj.get("fail"):
        raise RuntimeError("this event fails after asking")


def test_what_an_event_asks_to_be_done_once_kept_is_done_only_when_its_work_is_kept(
    Session: Any,
) -> None:
    _KEPT.clear()
    events = [
        event("test_only.kept", {"id": f"x_{i}", "fail": i == 1}, T0 + i, event_id=f"evt_k{i}")
        for i in range(3)
    ]
    _store(Session, events)
    report = process_batch(Session)
    assert (report.processed, report.retrying) == (2, 1)
    assert _KEPT == ["evt_k0", "evt_k2"]


def test_payloads_are_read_only_for_events_a_handler_may_have_work_for(
    Session: Any, engine: Any
) -> None:
    _store(Session, _common(4, "r", T0 + 5000))
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "CAST(events.payload AS TEXT)" in statement:
            statements.append((statement, parameters))

    sa_event.listen(engine, "before_cursor_execute", seen)
    try:
        process_batch(Session)
    finally:
        sa_event.remove(engine, "before_cursor_execute", seen)
    # the ids as one array parameter (PostgreSQL) or one parameter each (SQLite)
    read = sum(
        len(params["ids"]) if isinstance(params, dict) and "ids" in params else len(params)
        for _, params in statements
    )
    # failed charges, failed payment intents, invoice failures and subscription updates (their
    # pre-filters read them); not the payments and voids of invoices without a case, nor the
    # events no handler wants, all in one statement
    assert (len(statements), read) == (1, 4 * 4), statements


def test_a_payment_kept_by_its_pre_filter_reads_its_own_payload(Session: Any) -> None:
    opened = event("invoice.payment_failed", invoice("in_lp1", pi="pi_lp1"), T0 + 9000)
    _store(Session, [opened])
    process_batch(Session)
    paid = {**invoice("in_lp1", pi="pi_lp1", status="paid"), "amount_paid": 4_100}
    others = _common(3, "lp", T0 + 9001)  # payments and voids of invoices without a case
    _store(Session, [event("invoice.paid", paid, T0 + 9002), *others])
    process_batch(Session)
    with Session() as s:
        case = s.scalar(select(RecoveryCase).where(RecoveryCase.invoice_id == "in_lp1"))
    assert case is not None
    assert (case.status, case.recovered_amount) == ("recovered", 4_100)
