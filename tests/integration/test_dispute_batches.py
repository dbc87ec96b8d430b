"""Dispute events read their evidence facts once per batch and change nothing: a batch of
dispute events (new cases, updates, decisions, a customer known only by e-mail, an operator's
own evidence, refunds stored apart) leaves the cases and audit entries that one event per batch
leaves, in a handful of statements per event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select

from core.disputes.cases import config
from core.disputes.handlers import apply_dispute
from core.imports import IMPORTERS
from core.imports.csv_import import run_import
from core.models.disputes import DisputeCase, EvidenceItem
from core.models.governance import AuditEntry
from core.models.sync import StripeObject
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from tests.support import disputes as f
from tests.support.recovery import event

NOW = f.ts(2026, 6, 1, 12)
load_handler_modules()


def _import(session: Any, name: str, text: str) -> None:
    result = run_import(session, text.encode(), IMPORTERS[name].schema, IMPORTERS[name].apply)
    assert result.error_count == 0, result.errors


def _world(Session: Any, p: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three customers' histories and proof; (first events, later events) for namespace `p`."""
    first: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []
    with Session.begin() as s:
        for i, reason in enumerate(("fraudulent", "product_not_received", "credit_not_processed")):
            cus = f.customer(s, name=f"{p} {i}", email=f"{p}{i}@example.com")
            for months in (4, 3, 2):
                f.charge(s, cus, 4_900, NOW - months * 30 * f.DAY)
            extra: dict[str, Any] = {}
            if i == 2:  # its refunds are stored apart, not embedded in the charge
                extra = {"refunds": {"object": "list", "data": []}}
            ch = f.charge(s, cus, 9_000 + i, NOW - 20 * f.DAY, **extra)
            f.invoice(s, ch)
            if i == 2:
                f.put(
                    s,
                    {
                        "id": f"re_{p}{i}",
                        "object": "refund",
                        "charge": ch["id"],
                        "amount": 100,
                        "created": NOW - 10 * f.DAY,
                    },
                )
            # usage by customer id for the first, by e-mail only for the third; none for the
            # second (nor tickets): what the others have must not reach its evidence
            if i != 1:
                who = cus["id"] if i == 0 else ""
                email = "" if i == 0 else cus["email"].upper()
                _import(
                    s,
                    "usage",
                    "stripe customer id,email,timestamp,event,ip\n"
                    f"{who},{email},2026-05-20 10:00,login,203.0.113.7\n",
                )
            _import(
                s,
                "shipping",
                "carrier,tracking number,ship date,charge id,address\n"
                f"UPS,1Z{p}{i},2026-05-13,{ch['id']},12 Analytical Row London\n",
            )
            if i != 1:
                _import(
                    s,
                    "tickets",
                    "ticket id,stripe customer id,status,subject,created\n"
                    f"T-{p}{i},{cus['id']},solved,Where is my export?,2026-05-21\n",
                )
            dp = f.dispute(ch, reason=reason, due_by=NOW + 5 * f.DAY, created=NOW - 3 * f.DAY)
            first.append(event("charge.dispute.created", dp, NOW - 3 * f.DAY))
            updated = {**dp, "amount": dp["amount"] - 1}
            later.append(event("charge.dispute.updated", updated, NOW - 2 * f.DAY))
            if i != 1:  # two decisions: the win history of the third changes within the batch
                closed = {**updated, "status": "lost" if i == 0 else "won"}
                later.append(event("charge.dispute.closed", closed, NOW - f.DAY))
    return first, later


def _outcome(Session: Any, p: str) -> dict[str, Any]:
    fields = (
        "status",
        "outcome",
        "amount",
        "owner",
        "evidence_completeness",
        "win_chance",
        "expected_value",
        "recommendation",
        "recommendation_explanation",
        "priority",
        "priority_explanation",
    )
    with Session() as s:
        cases = s.scalars(
            select(DisputeCase)
            .where(DisputeCase.customer_id.in_(_customers(s, p)))
            .order_by(DisputeCase.id)
        ).all()
        targets = {f"dispute:{c.dispute_id}": n for n, c in enumerate(cases)}
        audit = [
            (targets[e.target], e.action, e.after)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            if e.target in targets
        ]
        return {"cases": [tuple(getattr(c, k) for k in fields) for c in cases], "audit": audit}


def _customers(s: Any, p: str) -> list[str]:
    return [
        o.id
        for o in s.scalars(select(StripeObject).where(StripeObject.object_type == "customer"))
        if str(o.data.get("name", "")).startswith(f"{p} ")
    ]


def _add_manual_evidence(Session: Any, p: str) -> None:
    with Session.begin() as s:
        case = s.scalars(
            select(DisputeCase)
            .where(DisputeCase.customer_id.in_(_customers(s, p)))
            .order_by(DisputeCase.id)
        ).first()
        assert case is not None
        s.add(
            EvidenceItem(
                case_id=case.id,
                field="customer_communication",
                text="The customer confirmed the order.",
                added_by="ops",
            )
        )


def _counter(statements: list[str]) -> Any:
    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    return count


def _direct(Session: Any, events: list[dict[str, Any]], account: str) -> None:
    """The events' disputes applied one by one outside any batch (each case reads its own
    facts), in the queue's order."""
    for ev in sorted(events, key=lambda e: e["created"]):
        with Session.begin() as s:
            apply_dispute(
                s, ev["data"]["object"], event_created=ev["created"], account=account, cfg=config()
            )


def test_a_batch_of_dispute_events_leaves_what_one_event_at_a_time_leaves(
    Session: Any, engine: Any
) -> None:
    results = []
    for p, limit in (("batched", 500), ("alone", 1), ("direct", 0)):
        first, later = _world(Session, p)
        if not limit:
            _direct(Session, first, f"acct_{p}")
            _add_manual_evidence(Session, p)
            _direct(Session, later, f"acct_{p}")
            results.append(_outcome(Session, p))
            continue
        with Session.begin() as s:
            ingest_events(s, first, account=f"acct_{p}", source="webhook")
        while process_batch(Session, limit=limit).claimed:
            pass
        _add_manual_evidence(Session, p)  # an operator's own evidence, read by the updates
        with Session.begin() as s:
            ingest_events(s, later, account=f"acct_{p}", source="webhook")
        statements: list[str] = []
        count = _counter(statements)
        sa_event.listen(engine, "before_cursor_execute", count)
        try:
            while process_batch(Session, limit=limit).claimed:
                pass
        finally:
            sa_event.remove(engine, "before_cursor_execute", count)
        results.append(_outcome(Session, p))
        if limit == 500:
            # The evidence facts of the five events are read once for all of them: a few
            # statements per event (the case, the win history, its UPDATE, the audit entry,
            # the savepoint) beside the batch's claim, reads and marks.
            assert len(statements) <= 6 * len(later) + 20, statements
    batched, alone, direct = results
    assert batched == alone
    assert batched == direct
    decided = [c for c in batched["cases"] if c[1] is not None]
    assert [c[1] for c in decided] == ["lost", "won"]
    assert all(c[4] is not None and c[4] > 0 for c in batched["cases"])


def _same_reason_world(Session: Any, p: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three fraud disputes of one account: the later events decide two of them, then update
    the third, whose win history (same account, same reason) changes within the batch."""
    first: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []
    with Session.begin() as s:
        disputes = []
        for i in range(3):
            cus = f.customer(s, name=f"{p} {i}", email=f"{p}{i}@example.com")
            ch = f.charge(s, cus, 9_000 + i, NOW - 20 * f.DAY)
            dp = f.dispute(ch, reason="fraudulent", due_by=NOW + 5 * f.DAY, created=NOW - 3 * f.DAY)
            disputes.append(dp)
            first.append(event("charge.dispute.created", dp, NOW - 3 * f.DAY))
        later.append(event("charge.dispute.closed", {**disputes[0], "status": "won"}, NOW - 50))
        later.append(event("charge.dispute.closed", {**disputes[1], "status": "won"}, NOW - 40))
        later.append(event("charge.dispute.updated", {**disputes[2], "amount": 8_000}, NOW - 30))
    return first, later


def test_the_win_history_of_a_batch_follows_the_decisions_made_earlier_in_it(
    Session: Any,
) -> None:
    results = []
    chances = []
    for p, limit in (("hist_batched", 500), ("hist_alone", 1)):
        first, later = _same_reason_world(Session, p)
        with Session.begin() as s:
            ingest_events(s, first, account=f"acct_{p}", source="webhook")
        while process_batch(Session, limit=limit).claimed:
            pass
        chances.append(_outcome(Session, p)["cases"][2][5])
        with Session.begin() as s:
            ingest_events(s, later, account=f"acct_{p}", source="webhook")
        while process_batch(Session, limit=limit).claimed:
            pass
        results.append(_outcome(Session, p))
    batched, alone = results
    assert batched == alone
    assert [c[1] for c in batched["cases"]] == ["won", "won", None]
    # the two wins of the same account and reason, earlier in the batch, raised the third
    # case's chance when its update was assessed
    assert batched["cases"][2][5] > chances[0] == chances[1]
