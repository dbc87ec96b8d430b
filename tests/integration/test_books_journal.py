"""Journal batches on both databases: totals match the source, exports are recorded once."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import func, select

from core.books.data import store_objects
from core.books.journal import export_batch, get_batch, suspense_categories
from core.books.journal_build import build_day_batches
from core.errors import ConflictError
from core.models.books import JournalExport, JournalLine
from tests.conftest import settings_for
from tests.support.books import DAY, T0, bt, invoice_with_tax


def _seed(Session: Any) -> list[dict[str, Any]]:
    day1 = [
        bt("charge", 11900, 375, source="ch_tax", created=T0 + 100),
        bt("charge", 5000, 175, created=T0 + 200),
        bt("refund", -2000, created=T0 + 300),
        bt("dispute", -5000, 1500, created=T0 + 400),
    ]
    day2 = [
        bt("charge", 1086, 61, created=T0 + DAY + 5, exchange_rate=1.086),
        bt("dispute_reversal", 5000, -1500, created=T0 + DAY + 6),
        bt("payout", -9000, created=T0 + DAY + 7, source="po_1"),
    ]
    with Session.begin() as s:
        store_objects(s, "", day1 + day2)
        store_objects(s, "", [invoice_with_tax("ch_tax", 1900)])
    return day1 + day2


def test_day_batches_total_the_balance_transactions(engine: Any, Session: Any) -> None:
    bts = _seed(Session)
    settings = settings_for(str(engine.url.render_as_string(hide_password=False)))
    with Session.begin() as s:
        batches = build_day_batches(s, settings)
        assert [b.entry_count for b in batches] == [4, 3]
        debit, credit = s.execute(
            select(func.sum(JournalLine.debit), func.sum(JournalLine.credit))
        ).one()
        assert debit == credit
        balance = s.scalar(
            select(func.sum(JournalLine.debit - JournalLine.credit)).where(
                JournalLine.role == "stripe_balance"
            )
        )
        assert balance == sum(b["net"] for b in bts)
        tax = s.scalar(
            select(func.sum(JournalLine.credit)).where(JournalLine.role == "tax_payable")
        )
        assert tax == 1900
        lines = s.scalar(select(func.count()).select_from(JournalLine))
    with Session.begin() as s:  # rebuilding an unexported batch replaces, never duplicates
        build_day_batches(s, settings)
        assert s.scalar(select(func.count()).select_from(JournalLine)) == lines


@pytest.mark.parametrize("fmt", ["qbo", "xero", "netsuite"])
def test_export_once_unless_forced(engine: Any, Session: Any, fmt: str) -> None:
    _seed(Session)
    settings = settings_for(str(engine.url.render_as_string(hide_password=False)))
    with Session.begin() as s:
        key = build_day_batches(s, settings)[0].key
    with Session.begin() as s:
        first = export_batch(s, settings, key, fmt)
    rows = list(csv.DictReader(io.StringIO(first.data.decode())))
    assert not first.reexport and len(rows) == first.rows > 0
    if fmt == "xero":
        assert sum(float(r["*Amount"]) for r in rows) == pytest.approx(0)
    else:
        debit_col, credit_col = ("Debits", "Credits") if fmt == "qbo" else ("Debit", "Credit")
        debits = sum(float(r[debit_col] or 0) for r in rows)
        assert debits == pytest.approx(sum(float(r[credit_col] or 0) for r in rows))
    with Session.begin() as s, pytest.raises(ConflictError, match="already exported"):
        export_batch(s, settings, key, fmt)
    with Session.begin() as s:
        again = export_batch(s, settings, key, fmt, force=True)
        assert again.reexport and "reexport" in again.filename
        flags = s.scalars(select(JournalExport.reexport).order_by(JournalExport.id)).all()
        assert flags == [False, True]
        assert get_batch(s, key).export_count == 2
    with Session.begin() as s:  # exported batches are frozen: a rebuild leaves them alone
        before = s.scalar(select(func.count()).select_from(JournalLine))
        build_day_batches(s, settings)
        assert s.scalar(select(func.count()).select_from(JournalLine)) == before


def test_unknown_category_is_counted_until_the_chart_file_maps_it(
    engine: Any, Session: Any, tmp_path: Any
) -> None:
    url = str(engine.url.render_as_string(hide_password=False))
    with Session.begin() as s:
        store_objects(s, "", [
            bt("topup", 50000, created=T0 + 10),
            bt("payout_minimum_balance_hold", -10000, created=T0 + 20),
            bt("brand_new_thing", -700, created=T0 + 30),
            bt("brand_new_thing", 200, created=T0 + DAY + 30),
        ])  # fmt: skip
    with Session.begin() as s:
        build_day_batches(s, settings_for(url))
        flagged = suspense_categories(s)
        assert [(u.category, u.entries, u.batches) for u in flagged] == [("brand_new_thing", 2, 2)]
        debit, credit = s.execute(
            select(func.sum(JournalLine.debit), func.sum(JournalLine.credit))
        ).one()
        assert debit == credit
    chart = tmp_path / "chart.toml"
    chart.write_text('[categories]\nbrand_new_thing = "adjustments"\n')
    with Session.begin() as s:
        build_day_batches(s, settings_for(url, CHART_OF_ACCOUNTS_FILE=str(chart)), rebuild=True)
        assert suspense_categories(s) == []
        roles = set(s.scalars(select(JournalLine.role)))
        assert "suspense" not in roles and {"adjustments", "stripe_reserve", "bank"} <= roles
