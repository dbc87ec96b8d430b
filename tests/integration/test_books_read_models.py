"""The SQL drift checks, page read models and incremental journal on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.books.data import store_objects
from core.books.journal_build import build_day_batches
from core.books.read_models import refresh_read_models
from core.books.views import (
    LIFECYCLE,
    MIN_REFRESH_GAP_S,
    TAX,
    lifecycle_summary,
    read_model,
    read_models_stale,
    save_read_models,
    tax_view,
)
from core.drift.checks import run_checks, take_snapshot
from core.drift.snapshots import latest, saved_items
from core.imports import IMPORTERS
from core.models.books import JournalEntry
from core.sync.ingest import ingest_events
from tests.conftest import settings_for
from tests.support.books import DAY, T0, bt, invoice_with_tax
from tests.support.recovery import event


def _sub(sid: str, customer: str, status: str, unit: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "currency": "usd",
        "items": {
            "data": [
                {"quantity": 2, "price": {"unit_amount": unit, "recurring": {"interval": "month"}}},
                {"quantity": 1, "price": {"unit_amount": 12000, "recurring": {"interval": "year"}}},
            ]
        },
        **extra,
    }


def _seed(Session: Any) -> None:
    customers = [
        {"id": f"cus_{n}", "object": "customer", "email": f"C{n}@Example.com", "created": T0}
        for n in range(1, 6)
    ]
    customers.append({"id": "cus_gone", "object": "customer", "deleted": True})
    subs = [
        _sub("sub_1", "cus_1", "active", 2500),  # 2*2500 + 12000/12 = 6000
        _sub("sub_2", "cus_2", "past_due", 1000),  # 3000, MRR at risk
        _sub(
            "sub_3", "cus_3", "canceled", 1000, cancellation_details={"reason": "payment_failed"}
        ),  # fmt: skip
        _sub("sub_4", "cus_4", "active", 500, cancel_at_period_end=True),  # 2000, set to cancel
    ]
    crm = (
        "stripe_customer_id,email,owner,mrr\n"
        "cus_1,,ann,60.00\n"  # agrees
        ",c2@example.com,,10.00\n"  # found by email; 30.00 in Stripe; no owner
        "cus_3,,bob,0\n"  # canceled: 0 in Stripe, agrees
        "cus_4,,bob,20.50\n"  # within 5 %
    )  # cus_5 is missing
    ents = (
        "stripe_customer_id,subscription_id,access\n"
        "cus_1,sub_1,active\n"  # fine
        "cus_3,,active\n"  # active while canceled (through the customer)
        "cus_4,sub_4,revoked\n"  # revoked while paid
        "cus_9,,active\n"  # unknown to Stripe: not counted
    )
    with Session.begin() as s:
        store_objects(s, "", customers + subs)
        store_objects(s, "", [
            bt("charge", 11900, 375, source="ch_tax", created=T0 + 100),
            bt("charge", 5000, 175, created=T0 + 200),
            bt("refund", -2000, created=T0 + DAY + 300),
            invoice_with_tax("ch_tax", 1900),
        ])  # fmt: skip
        for name, text in (("crm", crm), ("entitlements", ents)):
            result = IMPORTERS[name].run(s, text.encode())
            assert result.error_count == 0, result.errors


def test_sql_drift_checks_and_saved_drill_down(engine: Any, Session: Any) -> None:
    _seed(Session)
    settings = settings_for(str(engine.url.render_as_string(hide_password=False)))
    with Session() as s:
        checks = {c.name: c for c in run_checks(s, settings)}
    keys = {name: sorted(i.key for i in checks[name].items) for name in checks}
    assert keys["crm_missing_customer"] == ["cus_5"]
    assert keys["crm_mrr_mismatch"] == ["cus_2"]
    assert checks["crm_mrr_mismatch"].items[0].amount == 2000
    assert "$30.00" in checks["crm_mrr_mismatch"].items[0].summary
    assert len(keys["crm_no_owner"]) == 1
    assert keys["entitlement_active_but_canceled"] == ["cus_3"]
    assert keys["entitlement_revoked_but_paid"] == ["cus_4"]
    with Session.begin() as s:
        take_snapshot(s, settings, day=date(2026, 1, 2))
    with Session() as s:
        saved = {c.name: c for c in latest(s)}
        assert saved["crm_missing_customer"].count == 1
        assert saved["crm_missing_customer"].title == checks["crm_missing_customer"].title
        page = saved_items(s, "entitlement_revoked_but_paid", limit=10)
    assert [i.key for i in page] == ["cus_4"]


def test_lifecycle_and_tax_read_models(engine: Any, Session: Any) -> None:
    _seed(Session)
    with Session() as s:
        life = lifecycle_summary(s)
        assert life.funnel["active"] == 2 and life.funnel["past_due"] == 1
        assert life.mrr == {"usd": 6000 + 3000 + 2000}
        assert life.mrr_at_risk == {"usd": 3000} and life.mrr_set_to_cancel == {"usd": 2000}
        assert [(r["subscription"], r["why"]) for r in life.at_risk] == [
            ("sub_2", "past due"),
            ("sub_4", "cancels at period end"),
        ]
        assert life.at_risk_count == 2
        assert life.churn == {"voluntary": 0, "involuntary": 1}
        tax = tax_view(s, date(2026, 1, 1), date(2026, 1, 31))
        assert [(r["jurisdiction"], r["tax_amount"]) for r in tax] == [("DE", 1900)]
        assert tax_view(s, date(2026, 2, 1), date(2026, 2, 28)) == []
    with Session.begin() as s:
        save_read_models(s, date(2026, 1, 20))
    with Session() as s:
        stored_life = read_model(s, LIFECYCLE)
        stored_tax = read_model(s, TAX)
    assert stored_life is not None and stored_life[0]["mrr"] == {"usd": 11000}
    assert stored_tax is not None and stored_tax[0]["rows"][0]["tax_amount"] == 1900


def test_journal_books_only_new_transactions(engine: Any, Session: Any) -> None:
    _seed(Session)
    settings = settings_for(str(engine.url.render_as_string(hide_password=False)))
    with Session.begin() as s:
        first = build_day_batches(s, settings)
        assert [b.entry_count for b in first] == [2, 1]
    with Session.begin() as s:
        assert build_day_batches(s, settings) == []  # nothing new: nothing read, nothing added
        store_objects(s, "", [bt("charge", 700, 30, created=T0 + 500)])
    with Session.begin() as s:
        again = build_day_batches(s, settings)
        assert [(b.key, b.entry_count) for b in again] == [("day:platform:2026-01-01", 3)]
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 4
    with Session.begin() as s:  # a rebuild maps the open batches afresh, without duplicates
        build_day_batches(s, settings, rebuild=True)
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 4


def test_read_models_are_recomputed_when_events_arrive_but_not_too_often(
    engine: Any, Session: Any
) -> None:
    now = datetime.now(UTC)
    with Session() as s:
        assert read_models_stale(s, now)  # never computed
    with Session.begin() as s:  # computed on an empty store, as on a first start
        save_read_models(s, date(2026, 1, 20))
    with Session() as s:
        assert read_model(s, LIFECYCLE)[0]["mrr"] == {}  # type: ignore[index]
        assert not read_models_stale(s, now + timedelta(hours=2))  # nothing new arrived
    _seed(Session)
    with Session.begin() as s:
        ingest_events(s, [event("invoice.paid", {"id": "in_rm", "object": "invoice"}, T0)])
    with Session() as s:
        assert not read_models_stale(s, now)  # new events, but computed just now
        assert read_models_stale(s, now + timedelta(seconds=MIN_REFRESH_GAP_S + 1))
    settings = settings_for(str(engine.url.render_as_string(hide_password=False)))
    assert refresh_read_models(Session, settings) is None  # the scheduler's check: not due yet
    with Session.begin() as s:
        save_read_models(s, date(2026, 1, 20))
    with Session() as s:
        assert read_model(s, LIFECYCLE)[0]["mrr"] == {"usd": 11000}  # type: ignore[index]
        assert not read_models_stale(s, now + timedelta(hours=2))
