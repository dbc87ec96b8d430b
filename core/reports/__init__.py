"""Reports: one registry of named analyses, each rendered as CSV, XLSX or PDF.

A report is a function `(session, settings, date_from, date_to) -> pandas.DataFrame` plus an
optional chart function `(df) -> ChartSpec | None`. Owners register theirs with one line in
`REPORTS`; functions may be given as "module:function" strings so this package never imports a
domain module until the report is run (no import cycles, cheap CLI start).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

    from core.config import Settings

ReportFn = Callable[["Session", "Settings", date | None, date | None], "pd.DataFrame"]


@dataclass(frozen=True)
class ChartSpec:
    """A simple chart a finance lead can read on paper: bars or lines of `y` columns over `x`."""

    kind: str  # "bar" | "line"
    x: str
    y: tuple[str, ...]
    title: str = ""
    # The data to draw when it differs from the report's table (e.g. totals per account).
    frame: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class ReportSpec:
    """One named report: its title, its data function and, optionally, a chart of that data."""

    title: str
    fn: ReportFn | str
    chart: Callable[[pd.DataFrame], ChartSpec | None] | str | None = None
    description: str = ""
    # Columns holding money in major units (a `currency` column says which): numbers in XLSX.
    money: tuple[str, ...] = ()

    def data_fn(self) -> ReportFn:
        """The data function, imported on first use when given as "module:function"."""
        return _resolve(self.fn)

    def chart_fn(self) -> Callable[[pd.DataFrame], ChartSpec | None] | None:
        """The chart function, or None."""
        return _resolve(self.chart) if self.chart is not None else None


def _resolve(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


# One line per report. Owners of other areas add theirs here.
REPORTS: dict[str, ReportSpec] = {
    "failed_payments": ReportSpec(
        "Failed payments",
        "core.reports.recovery:failed_payments_report",
        "core.reports.recovery:failed_payments_chart",
        "Failed-payment cases, recovery rate and recovered amount per failure bucket.",
        money=("recovered_amount",),
    ),
    "disputes": ReportSpec(
        "Disputes",
        "core.reports.disputes:disputes_report",
        "core.reports.disputes:disputes_chart",
        "Every dispute with its reason, outcome, amounts, owner and fight-or-accept recommendation.",
        money=("amount", "fee", "amount_reinstated", "expected_value"),
    ),
    "journal_entries": ReportSpec(
        "Journal entries",
        "core.reports.books:journal_entries",
        "core.reports.books:journal_chart",
        "Double-entry lines generated from Stripe balance transactions.",
        money=("debit", "credit"),
    ),
    "payout_reconciliation": ReportSpec(
        "Payout reconciliation",
        "core.reports.books:payout_reconciliation",
        "core.reports.books:payout_chart",
        "Each payout's gross, fees, refunds, disputes and net, and whether they add up.",
        money=(
            "amount",
            "gross",
            "fees",
            "refunds",
            "disputes",
            "adjustments",
            "net",
            "difference",
        ),
    ),
    "bank_matching": ReportSpec(
        "Payouts vs bank deposits",
        "core.reports.books:bank_matching",
        None,
        "Deposits matched to payouts, each with its date, amount, currency and payout; "
        "unmatched on both sides with a likely reason.",
        money=("amount",),
    ),
    "drift": ReportSpec(
        "Drift",
        "core.reports.books:drift",
        "core.reports.books:drift_chart",
        "Mismatches between Stripe and the CRM, entitlements, the bank, sync and approvals.",
    ),
    "lifecycle": ReportSpec(
        "Subscription lifecycle",
        "core.reports.books:lifecycle",
        "core.reports.books:lifecycle_chart",
        "Trial → active → past due → canceled / unpaid, churn, MRR and MRR at risk.",
        money=("mrr", "mrr_at_risk", "mrr_set_to_cancel"),
    ),
    "tax": ReportSpec(
        "Tax collected",
        "core.reports.books:tax",
        "core.reports.books:tax_chart",
        "Tax collected per jurisdiction and month, from invoices, for the filer.",
        money=("taxable_amount", "tax_amount"),
    ),
}


def get_report(name: str) -> ReportSpec:
    """The report called `name`, or an InputError listing the known ones."""
    try:
        return REPORTS[name]
    except KeyError:
        known = ", ".join(sorted(REPORTS))
        raise InputError(f"unknown report {name!r}: choose one of {known}.") from None
