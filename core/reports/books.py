"""The books owner's reports: journal entries, payouts, bank matching, drift, lifecycle, tax."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.adapters.stripe_links import dashboard_url
from core.books import figures
from core.books.bank_reconciliation import match_bank
from core.books.data import epoch_range, local_day
from core.books.journal_build import draft_entries
from core.books.lifecycle import STAGES
from core.books.payouts import reconciliations
from core.books.views import lifecycle_view, tax_view
from core.config import Settings
from core.drift.checks import run_checks
from core.models.sync import StripeObject
from core.money import to_major
from core.reports import ChartSpec


def journal_entries(
    session: Session, settings: Settings, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """Double-entry lines for the balance transactions of the period (read-only preview)."""
    start, end = epoch_range(date_from, date_to, settings.tz)
    created = StripeObject.data["created"].as_integer()
    stmt = select(StripeObject.data).where(StripeObject.object_type == "balance_transaction")
    if start is not None:
        stmt = stmt.where(created >= start)
    if end is not None:
        stmt = stmt.where(created < end)
    # The period is chosen in the database; only its transactions are read.
    bts = [dict(b) for b in session.scalars(stmt.execution_options(yield_per=2000))]
    bts.sort(key=lambda b: (b.get("created") or 0, b.get("id") or ""))
    rows = [
        {
            "date": local_day(e.created, settings.tz),
            "source": e.source_id,
            "category": e.reporting_category,
            "account_code": ln.account.code,
            "account": ln.account.name,
            "debit": to_major(ln.debit, e.currency),
            "credit": to_major(ln.credit, e.currency),
            "currency": e.currency,
            "exchange_rate": e.exchange_rate,
            "original_currency": e.original_currency,
            "description": ln.description,
        }
        for e in draft_entries(session, settings, bts)
        for ln in e.lines
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "date",
            "source",
            "category",
            "account_code",
            "account",
            "debit",
            "credit",
            "currency",
            "exchange_rate",
            "original_currency",
            "description",
        ],
    )


def journal_chart(df: pd.DataFrame) -> ChartSpec | None:
    """Debits per account."""
    if df.empty:
        return None
    by = df.groupby("account", as_index=False)[["debit", "credit"]].sum()
    df.attrs["chart_frame"] = by
    return ChartSpec("bar", "account", ("debit", "credit"), "Debits and credits per account")


PAYOUT_COLUMNS = [
    "payout",
    "payout_link",
    "arrival_date",
    "status",
    "state",
    "currency",
    "amount",
    "gross",
    "fees",
    "refunds",
    "disputes",
    "adjustments",
    "net",
    "difference",
    "transactions",
    "note",
]


def payout_reconciliation(
    session: Session, settings: Settings, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """Each payout's breakdown and whether it adds up (from the last reconciliation run)."""
    rows = [
        {
            "payout": r.payout_id,
            "payout_link": _link(r.payout_id, settings, r.account or ""),
            "arrival_date": r.arrival_date,
            "status": r.status,
            "state": r.state,
            "currency": r.currency,
            **{
                k: to_major(getattr(r, k), r.currency)
                for k in (
                    "amount",
                    "gross",
                    "fees",
                    "refunds",
                    "disputes",
                    "adjustments",
                    "net",
                    "difference",
                )
            },
            "transactions": r.transaction_count,
            "note": r.note or "",
        }
        for r in reconciliations(session, date_from, date_to)
    ]
    return pd.DataFrame(rows, columns=PAYOUT_COLUMNS)


def payout_chart(df: pd.DataFrame) -> ChartSpec | None:
    """Payout amounts over time."""
    if df.empty:
        return None
    return ChartSpec("bar", "arrival_date", ("amount",), "Payout amounts by arrival date")


def _link(object_id: str, settings: Settings, account: str = "") -> str:
    """The object's page in the Stripe dashboard ("" in sandbox mode)."""
    return dashboard_url(object_id, mode=settings.stripe_mode, account=account) or ""


BANK_COLUMNS = [
    "account",
    "kind",
    "date",
    "amount",
    "currency",
    "payout",
    "payout_link",
    "deposits",
    "deposit_dates",
    "detail",
]


def bank_matching(
    session: Session, settings: Settings, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """Per account: matched pairs, the unmatched on both sides with a likely reason, and the
    accounts whose bank statement was never imported.

    Every row carries its date, amount, currency and Stripe payout (with its dashboard link);
    deposits are named as the bank statement names them. Only the period's rows are listed:
    pairs and payouts by the payout's arrival date, deposits by the day they were posted.
    """
    result = match_bank(session, date_from, date_to)
    rows: list[dict[str, Any]] = [
        {
            "account": m.account or "platform",
            "kind": "matched",
            "date": m.on,
            "amount": to_major(m.amount, m.currency),
            "currency": m.currency,
            "payout": m.payout_id,
            "payout_link": _link(m.payout_id, settings, m.account),
            "deposits": "; ".join(m.deposit_labels),
            "deposit_dates": ", ".join(d.isoformat() for d in m.deposit_dates),
            "detail": f"{m.method}, {m.days_late:+d} day(s)",
        }
        for m in result.matches
    ]
    for u in result.unmatched_payouts:
        rows.append(
            {
                "account": u.account or "platform",
                "kind": "unmatched payout",
                "date": u.on,
                "amount": to_major(u.amount, u.currency),
                "currency": u.currency,
                "payout": u.id,
                "payout_link": _link(u.id, settings, u.account),
                "deposits": "",
                "deposit_dates": "",
                "detail": u.reason,
            }
        )
    for u in result.unmatched_deposits + result.unmatched_withdrawals:
        rows.append(
            {
                "account": u.account or "platform",
                "kind": f"unmatched {u.side}",
                "date": u.on,
                "amount": to_major(u.amount, u.currency),
                "currency": u.currency,
                "payout": "",
                "payout_link": "",
                "deposits": u.label,
                "deposit_dates": u.on.isoformat(),
                "detail": u.reason,
            }
        )
    for a in result.without_statement:
        rows.append(
            {
                "account": a.label,
                "kind": "no statement",
                "date": None,
                "amount": None,
                "currency": None,
                "payout": "",
                "payout_link": "",
                "deposits": "",
                "deposit_dates": "",
                "detail": f"{a.payouts} payout(s); no bank statement imported for this account",
            }
        )
    return pd.DataFrame(rows, columns=BANK_COLUMNS)


def drift(
    session: Session, settings: Settings, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """Every drift item, by check (the period does not apply: drift is about now)."""
    rows = [
        {
            "area": c.area,
            "check": c.name,
            "title": c.title,
            "count": c.count,
            "item": i.key,
            "detail": i.summary,
        }
        for c in run_checks(session, settings)
        for i in (c.items or [None])  # type: ignore[list-item]
        if i is not None
    ]
    return pd.DataFrame(rows, columns=["area", "check", "title", "count", "item", "detail"])


def drift_chart(df: pd.DataFrame) -> ChartSpec | None:
    """Items per check."""
    if df.empty:
        return None
    by = df.groupby("check", as_index=False)["count"].max()
    return ChartSpec("bar", "check", ("count",), "Drift items per check", by)


def lifecycle(
    session: Session, settings: Settings, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """Transitions into each status per month; then, per currency, a summary row of the
    subscriptions now (funnel and churn on the first) with MRR, MRR at risk and MRR set to
    cancel in major units (the headline figures of core/books/figures.py)."""
    view = lifecycle_view(session)
    months = [
        m
        for m in view.monthly
        if (not date_from or m["month"] >= date_from.strftime("%Y-%m"))
        and (not date_to or m["month"] <= date_to.strftime("%Y-%m"))
    ]
    money = figures.mrr_figures(session)
    currencies: list[str | None] = [*sorted(money.mrr)] or [None]
    summary = []
    for i, cur in enumerate(currencies):
        row: dict[str, Any] = {"month": "now (subscriptions)"}
        if i == 0:
            row |= {s: view.funnel.get(s, 0) for s in STAGES}
            row["voluntary_churn"] = view.churn.get("voluntary", 0)
            row["involuntary_churn"] = view.churn.get("involuntary", 0)
        if cur is not None:
            row["currency"] = cur
            for col, amounts in (
                ("mrr", money.mrr),
                ("mrr_at_risk", money.at_risk),
                ("mrr_set_to_cancel", money.set_to_cancel),
            ):
                row[col] = to_major(amounts.get(cur, 0), cur)
        summary.append(row)
    return pd.DataFrame([*months, *summary], columns=["month", *STAGES, *LIFECYCLE_SUMMARY_COLUMNS])


LIFECYCLE_SUMMARY_COLUMNS = (
    "voluntary_churn",
    "involuntary_churn",
    "currency",
    "mrr",
    "mrr_at_risk",
    "mrr_set_to_cancel",
)


def lifecycle_chart(df: pd.DataFrame) -> ChartSpec | None:
    """Transitions per month."""
    monthly = df[df["month"].astype(str).str.match(r"\d{4}-\d{2}")] if not df.empty else df
    if monthly.empty:
        return None
    return ChartSpec(
        "line",
        "month",
        ("trialing", "active", "past_due", "canceled"),
        "Subscriptions entering each status per month",
        monthly,
    )


def tax(
    session: Session, settings: Settings, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """Tax collected per month and jurisdiction, in major units."""
    rows = tax_view(session, date_from, date_to)
    for r in rows:
        r["taxable_amount"] = to_major(r["taxable_amount"], r["currency"])
        r["tax_amount"] = to_major(r["tax_amount"], r["currency"])
    return pd.DataFrame(
        rows,
        columns=[
            "period",
            "jurisdiction",
            "country",
            "state",
            "tax_type",
            "currency",
            "invoices",
            "taxable_amount",
            "tax_amount",
        ],
    )


def tax_chart(df: pd.DataFrame) -> ChartSpec | None:
    """Tax per jurisdiction."""
    if df.empty:
        return None
    return ChartSpec("bar", "jurisdiction", ("tax_amount",), "Tax collected per jurisdiction")
