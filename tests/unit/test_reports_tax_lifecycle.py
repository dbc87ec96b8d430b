"""Report writers (XLSX and PDF readable), tax per jurisdiction and the lifecycle analysis."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
from openpyxl import load_workbook
from pypdf import PdfReader

from core.books.lifecycle import analyse, subscription_mrr
from core.books.tax import tax_summary
from core.reports import REPORTS, ChartSpec, ReportSpec
from core.reports.writers import to_csv, to_pdf, to_xlsx
from tests.support.books import invoice_with_tax

DF = pd.DataFrame(
    {
        "month": ["2026-01", "2026-02"],
        "tax_amount": [19.0, -3.5],
        "note": ["Zürich — ok", None],
    }
)


def test_xlsx_and_pdf_open_in_their_readers() -> None:
    ws = load_workbook(io.BytesIO(to_xlsx(DF, "Tax collected"))).active
    assert [c.value for c in ws[1]] == ["month", "tax_amount", "note"]
    assert ws.cell(3, 2).value == -3.5
    pdf = to_pdf(
        DF,
        "Tax collected",
        "Period: all",
        ChartSpec("bar", "month", ("tax_amount",), "Tax"),
    )
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Tax collected" in text and "2026-02" in text and "Zürich" in text
    assert to_csv(DF).decode("utf-8-sig").splitlines()[0] == "month,tax_amount,note"
    empty = PdfReader(io.BytesIO(to_pdf(DF.iloc[0:0], "Nothing", ""))).pages[0].extract_text()
    assert "Nothing in this period" in empty


def test_registry_entries_resolve_lazily() -> None:
    for spec in REPORTS.values():
        assert isinstance(spec, ReportSpec) and callable(spec.data_fn())


def test_tax_per_jurisdiction_and_month_from_both_shapes() -> None:
    current = invoice_with_tax("ch_1", 1900, jurisdiction="DE")
    older = {"id": "in_old", "status": "paid", "currency": "eur", "created": current["created"],
             "total_tax_amounts": [{"amount": 500, "inclusive": False, "tax_rate": "txr_fr",
                                    "taxable_amount": 2500}]}  # fmt: skip
    unpaid = {**invoice_with_tax("ch_2", 999), "status": "open"}
    rates = {
        "txr_fr": {
            "id": "txr_fr",
            "jurisdiction": "FR",
            "country": "FR",
            "tax_type": "vat",
        }
    }
    rows = tax_summary([current, older, unpaid], rates.get, date(2026, 1, 1), date(2026, 1, 31))
    got = {(r["period"], r["jurisdiction"]): r["tax_amount"] for r in rows}
    assert got == {("2026-01", "DE"): 1900, ("2026-01", "FR"): 500}


def test_lifecycle_funnel_churn_and_subscription_mrr() -> None:
    price = {
        "unit_amount": 12000,
        "recurring": {"interval": "year", "interval_count": 1},
    }
    subs = [
        {
            "id": "s1",
            "status": "active",
            "items": {"data": [{"quantity": 2, "price": price}]},
        },
        {
            "id": "s2",
            "status": "past_due",
            "items": {"data": [{"quantity": 1, "price": price}]},
        },
        {
            "id": "s3",
            "status": "canceled",
            "cancellation_details": {"reason": "cancellation_requested"},
        },
        {
            "id": "s4",
            "status": "canceled",
            "cancellation_details": {"reason": "payment_failed"},
        },
        {"id": "s5", "status": "trialing", "trial_start": 1, "items": {"data": []}},
    ]
    events = [
        {"type": "customer.subscription.updated", "created": 1_767_225_600,
         "data": {"object": {"id": "s2", "status": "past_due"}, "previous_attributes": {"status": "active"}}},
        {"type": "customer.subscription.deleted", "created": 1_769_904_000,
         "data": {"object": {"id": "s4", "status": "canceled"}}},
    ]  # fmt: skip
    view = analyse(subs, events)
    assert subscription_mrr(subs[0]) == 2000
    assert (
        view.funnel["active"] == 1
        and view.funnel["canceled"] == 2
        and view.funnel["ever_trialed"] == 1
    )
    assert view.churn == {"voluntary": 1, "involuntary": 1}
    # A yearly price counts 1/12 a month; a canceled subscription counts nothing.
    assert [subscription_mrr(s) for s in subs] == [2000, 1000, 0, 0, 0]
    assert [m["month"] for m in view.monthly] == ["2026-01", "2026-02"]
