"""The audit log reads and searches by what happened: action, customer, amount, user."""

from __future__ import annotations

from typing import Any

from core.governance import audit
from core.governance.audit_text import customer_names, describe, ids_of
from core.governance.auth import Actor
from core.sync.ingest import ingest_events
from tests.support.recovery import event

T0 = 1_780_000_000


def seed(Session: Any) -> None:
    objs = [
        {"id": "cus_ana", "object": "customer", "name": "Ana Lima", "email": "ana@acme.io"},
        {"id": "ch_ana1", "object": "charge", "customer": "cus_ana", "amount": 175_100},
        {"id": "cus_bo", "object": "customer", "name": "Bo Berg", "email": "bo@x.io"},
    ]
    pat, olga = Actor(1, "pat", "approver"), Actor(2, "olga", "operator")
    with Session.begin() as s:
        ingest_events(s, [event(f"{o['object']}.updated", o, T0 + i) for i, o in enumerate(objs)])
        snap = {"type": "refund", "target": "ch_ana1", "amount": 175_100, "currency": "usd"}
        audit.record(s, olga, "action.requested", "action:7", None, snap | {"status": "requested"})
        audit.record(
            s,
            pat,
            "action.approval_recorded",
            "action:7",
            snap | {"status": "requested"},
            snap | {"status": "requested", "approvals": 1, "required": 2},
        )
        audit.record(s, pat, "user.disabled", "user:bo", {"disabled": False}, {"disabled": True})
        audit.record(
            s,
            olga,
            "dispute.owner",
            "cus_bo",
            {"owner": None},
            {"owner": "olga@x.io"},
        )


def found(Session: Any, text: str) -> list[str]:
    with Session() as s:
        return [e.action for e in audit.search(s, audit.AuditFilter(text=text))]


def test_each_entry_reads_as_a_sentence(Session: Any) -> None:
    seed(Session)
    with Session() as s:
        entries = audit.search(s, audit.AuditFilter())
        names = customer_names(s, [i for e in entries for i in ids_of(e)])
        lines = [describe(e, names) for e in reversed(entries)]
    assert lines == [
        "olga asked for a refund of $1,751.00 for Ana Lima.",
        "pat approved a refund of $1,751.00 for Ana Lima (1 of 2 approvals).",
        "pat disabled a user.",
        "olga changed a dispute's owner for Bo Berg.",
    ]


def test_search_finds_words_customers_and_amounts(Session: Any) -> None:
    seed(Session)
    both = ["action.approval_recorded", "action.requested"]
    assert found(Session, "refund") == both
    assert found(Session, "ana lima") == both
    assert found(Session, "Ana") == both
    assert found(Session, "$1,751.00") == both
    assert found(Session, "1751") == both
    assert found(Session, "Bo Berg") == ["dispute.owner"]
    assert found(Session, "disabled") == ["user.disabled"]
    assert found(Session, "approved") == ["action.approval_recorded"]
    assert found(Session, "Nobody Known") == []
