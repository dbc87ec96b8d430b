"""What the books and reports hold at once does not grow with the store (SQLite, PostgreSQL).

The scheduler's peak came from reads that decoded whole tables or thousands of snapshots at
once: the journal's invoice tax, the charges behind its transactions, and the lifecycle report.
Each is measured here with tracemalloc at two store sizes ten times apart.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

from core.books.data import store_objects, tax_by_payment
from core.books.journal_build import draft_context
from core.books.views import lifecycle_view
from core.sync.ingest import ingest_events
from tests.support.books import DAY, T0, bt, invoice_with_tax
from tests.support.recovery import event

BULK = "x" * 4000  # what makes a real snapshot large: lines, addresses, metadata


def _peak(fn: Callable[[], Any]) -> int:
    """Bytes of Python objects allocated at the peak while `fn` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _invoices(Session: Any, first: int, count: int) -> None:
    with Session.begin() as s:
        store_objects(s, "", [
            {**invoice_with_tax(f"ch_m{n}", 100 + n % 7, created=T0 + n),
             "lines": {"data": [{"description": BULK}]}}
            for n in range(first, first + count)
        ])  # fmt: skip


def test_invoice_tax_is_read_a_few_invoices_at_a_time(Session: Any) -> None:
    found: dict[str, int] = {}

    def read() -> None:
        with Session() as s:
            found.update(tax_by_payment(s, T0 - DAY, T0 + DAY))

    _invoices(Session, 0, 150)
    small = _peak(read)
    assert len(found) == 150 and found["ch_m3"] == 103
    _invoices(Session, 150, 1350)
    found.clear()
    large = _peak(read)
    assert len(found) == 1500 and found["ch_m1499"] == 100 + 1499 % 7
    # Ten times the invoices: what is held grows by the small figures kept, not the snapshots.
    assert large < 2 * small, (small, large)


def test_charges_behind_transactions_are_read_as_their_few_fields(Session: Any) -> None:
    charges = [
        {"id": f"ch_fx{n}", "object": "charge", "currency": "eur", "amount": 1000 + n,
         "payment_intent": f"pi_fx{n}", "created": T0, "metadata": {"note": BULK}}
        for n in range(300)
    ]  # fmt: skip
    bts = [
        bt("charge", 1086 + n, 61, created=T0 + n, source=f"ch_fx{n}", exchange_rate=1.086)
        for n in range(300)
    ]
    with Session.begin() as s:
        store_objects(s, "", charges + bts)
    got: list[Any] = []

    def read() -> None:
        with Session() as s:
            got.append(draft_context(s, bts))

    peak = _peak(read)
    # 300 charges of 4 kB each would be well over 1.2 MB decoded; their fields are a few dozen kB.
    assert peak < 1_000_000, peak
    assert got[0].charges["ch_fx7"] == {
        "id": "ch_fx7", "currency": "eur", "payment_intent": "pi_fx7", "amount": 1007
    }  # fmt: skip


def _subscriptions(Session: Any, first: int, count: int) -> None:
    subs = [
        {"id": f"sub_m{n}", "object": "subscription", "status": "active", "created": T0,
         "items": {"data": [{"quantity": 1, "price": {"unit_amount": 1000}}]},
         "metadata": {"note": BULK}}
        for n in range(first, first + count)
    ]  # fmt: skip
    changes = [
        {**event("customer.subscription.updated", sub, T0 + n),
         "data": {"object": sub, "previous_attributes": {"status": "trialing"}}}
        for n, sub in enumerate(subs, start=first)
    ]  # fmt: skip
    with Session.begin() as s:
        store_objects(s, "", subs)
        ingest_events(s, changes)


def test_lifecycle_analysis_streams_subscriptions_and_events(Session: Any) -> None:
    views: list[Any] = []

    def read() -> None:
        with Session() as s:
            views.append(lifecycle_view(s))

    _subscriptions(Session, 0, 200)
    small = _peak(read)
    _subscriptions(Session, 200, 1800)
    large = _peak(read)
    first, second = views
    assert first.funnel["active"] == 200 and second.funnel["active"] == 2000
    assert second.monthly[0]["active"] == 2000
    assert large < 2 * small, (small, large)
