"""An event waiting for an object the sync fetches ends processed or dead, never stuck: it keeps
its retries while the object's refresh is still queued (the sync has not tried it yet), is
processed once the sync stores the object, and is dead, with a reason the health page shows,
once the sync fetched it and Stripe had none — or after waiting on a sync that never ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from core.models.recovery import RecoveryCase
from core.models.sync import Event, SnapshotRefresh
from core.sync.health import dead_letters
from core.sync.ingest import ingest_events
from core.sync.processing import (
    MISSING_OBJECT_ATTEMPTS,
    WAITING_FOR_SYNC_ATTEMPTS,
    load_handler_modules,
    process_batch,
)
from core.sync.snapshots import refresh_requested
from tests.support.recovery import event, invoice

T0 = 1_780_000_000
load_handler_modules()


def _failure(inv_id: str) -> dict[str, Any]:
    inv = invoice(inv_id)
    inv.pop("payments", None)  # the current shape: the invoice names no payment
    return event("invoice.payment_failed", inv, T0)


def _payment(inv_id: str) -> dict[str, Any]:
    return {
        "id": f"inpay_{inv_id}",
        "object": "invoice_payment",
        "invoice": inv_id,
        "is_default": True,
        "status": "open",
        "created": T0,
        "payment": {"type": "payment_intent", "payment_intent": f"pi_{inv_id}"},
    }


class _Stripe:
    """What the sync's refresh reads from Stripe: the payments of `known` invoices, no others."""

    def __init__(self, known: set[str]) -> None:
        self.known = known

    def fetch(self, resource: str, object_id: str) -> dict[str, Any]:
        return {}

    def list_page(self, resource: str, params: dict[str, Any]) -> dict[str, Any]:
        inv_id = params["invoice"]
        return {"data": [_payment(inv_id)] if inv_id in self.known else []}


def _sync(Session: Any, stripe: _Stripe) -> None:
    refresh_requested(Session, stripe.fetch, stripe.list_page, account="", limit=100)


def _states(Session: Any) -> dict[str, tuple[str, int]]:
    with Session() as s:
        rows = s.execute(select(Event.object_id, Event.status, Event.attempts)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def _passes(Session: Any, n: int, start: datetime) -> datetime:
    """`n` processing passes, each two hours after the last (past any backoff)."""
    now = start
    for _ in range(n):
        now += timedelta(hours=2)
        process_batch(Session, now=now)
    return now


def test_waiting_events_end_processed_or_dead_with_their_reason(Session: Any) -> None:
    with Session.begin() as s:
        ingest_events(s, [_failure("in_arrives"), _failure("in_never")], source="webhook")
    # No sync runs for a while (a long refresh queue ahead of these): the events keep
    # retrying past the attempts an absent object is given, and do not die before their turn.
    now = _passes(Session, MISSING_OBJECT_ATTEMPTS + 2, datetime.now(UTC))
    assert _states(Session) == {
        "in_arrives": ("failed", MISSING_OBJECT_ATTEMPTS + 2),
        "in_never": ("failed", MISSING_OBJECT_ATTEMPTS + 2),
    }
    # The sync reads the queue: Stripe lists one invoice's payment, none for the other.
    _sync(Session, _Stripe({"in_arrives"}))
    now = _passes(Session, 1, now)
    assert _states(Session)["in_arrives"][0] == "processed"
    assert _states(Session)["in_never"] == ("dead", MISSING_OBJECT_ATTEMPTS + 3)
    with Session() as s:
        assert s.scalar(select(RecoveryCase.invoice_id)) == "in_arrives"
        (letter,) = dead_letters(s)
        assert s.scalars(select(SnapshotRefresh.object_id)).all() == ["in_never#payments"]
    assert letter["type"] == "invoice.payment_failed"
    assert letter["reason"].startswith(
        f"Dead after {MISSING_OBJECT_ATTEMPTS + 3} attempts: Stripe did not return "
        "invoice_payment in_never#payments when the sync fetched it."
    )
    assert "python -m jobs process --replay evt_" in letter["reason"]
    # Nothing is left due, however late the next pass runs.
    assert process_batch(Session, now=now + timedelta(days=60)).claimed == 0


def test_an_absent_object_dies_once_the_sync_tried_it_enough(Session: Any) -> None:
    with Session.begin() as s:
        ingest_events(s, [_failure("in_gone")], source="webhook")
    now = datetime.now(UTC)
    for _ in range(MISSING_OBJECT_ATTEMPTS - 1):
        now = _passes(Session, 1, now)
        _sync(Session, _Stripe(set()))  # each poll fetches it; Stripe has none
        assert _states(Session)["in_gone"][0] == "failed"
    _passes(Session, 1, now)
    assert _states(Session)["in_gone"] == ("dead", MISSING_OBJECT_ATTEMPTS)


def test_waiting_on_a_sync_that_never_runs_is_bounded(Session: Any) -> None:
    with Session.begin() as s:
        ingest_events(s, [_failure("in_unsynced")], source="webhook")
    now = _passes(Session, WAITING_FOR_SYNC_ATTEMPTS - 1, datetime.now(UTC))
    assert _states(Session)["in_unsynced"][0] == "failed"
    _passes(Session, 1, now)
    assert _states(Session)["in_unsynced"] == ("dead", WAITING_FOR_SYNC_ATTEMPTS)
    with Session() as s:
        (letter,) = dead_letters(s)
    assert "the sync has not fetched invoice_payment in_unsynced#payments yet" in letter["reason"]
