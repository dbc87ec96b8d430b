"""Widgets for the books pages: messages that survive a rerun, tables, downloads, uploads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.books.views import (
    LIFECYCLE,
    TAX,
    LifecycleSummary,
    default_tax_period,
    lifecycle_from,
    read_model,
)
from core.config import Settings
from core.imports.csv_reader import ImportResult
from core.reports.run import RenderedReport
from dashboard import format as fmt

FLASH_KEY = "books_flash"


def flash_later(kind: str, text: str) -> None:
    """Show a message on the next run (after a button's rerun)."""
    st.session_state[FLASH_KEY] = (kind, text)


def flash() -> None:
    """Show (once) the message a callback left."""
    item = st.session_state.pop(FLASH_KEY, None)
    if item:
        getattr(st, item[0])(item[1])


def table(rows: list[dict[str, Any]] | pd.DataFrame, empty: str, **kwargs: Any) -> None:
    """A full-width table, or a short note when there is nothing to show."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if df.empty:
        st.caption(empty)
    else:
        st.dataframe(df, hide_index=True, width="stretch", **kwargs)


def download(report: RenderedReport, key: str) -> None:
    """A download button for a rendered report."""
    st.download_button(
        f"Download {report.filename} ({report.rows} rows)",
        report.data,
        file_name=report.filename,
        mime=report.mime,
        key=key,
    )


def import_result(result: ImportResult) -> None:
    """What an upload did, with the rejected rows and their line numbers."""
    (st.success if not result.error_count else st.warning)(result.summary())
    if result.errors:
        table([{"line": e.line, "problem": e.message} for e in result.errors[:200]], "")


def trend_chart(rows: list[dict[str, Any]]) -> None:
    """Daily drift counts per check as lines (plotly, like the other trend charts)."""
    if not rows:
        st.caption(
            "No daily counts yet: they are recorded by `python -m jobs books` (hourly) or by "
            "Refresh now."
        )
        return
    series: dict[str, dict[Any, int]] = {}
    for r in rows:
        per_day = series.setdefault(str(r["check"]), {})
        per_day[r["day"]] = max(per_day.get(r["day"], 0), int(r["count"]))
    fig = go.Figure(
        [
            go.Scatter(x=list(days), y=list(days.values()), mode="lines+markers", name=name)
            for name, days in sorted(series.items())
            if any(days.values())
        ]
    )
    fig.update_layout(height=280, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis_title="Items", legend_title_text="Check")  # fmt: skip
    st.plotly_chart(fig, width="stretch")


def funnel_chart(funnel: dict[str, int]) -> None:
    """Subscriptions per lifecycle status as bars."""
    labels = [k.replace("_", " ").capitalize() for k in funnel]
    fig = go.Figure([go.Bar(x=labels, y=list(funnel.values()))])
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis_title="Subscriptions")  # fmt: skip
    st.plotly_chart(fig, width="stretch")


def link_rows(
    rows: list[dict[str, Any]], id_key: str, stripe_mode: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Add a Stripe link column when there are links (not in sandbox mode)."""
    links = [fmt.stripe_url(r[id_key], stripe_mode) for r in rows]
    if not any(links):
        return rows, {}
    out = [{id_key: r[id_key], "stripe": u, **r} for r, u in zip(rows, links, strict=True)]
    return out, {"stripe": st.column_config.LinkColumn("Stripe", display_text="Open in Stripe")}


def tax_and_lifecycle(Session: sessionmaker[Session], settings: Settings, today: date) -> None:
    """Tax per jurisdiction and the subscription lifecycle, as the books job saved them."""
    with Session() as session:
        saved_tax = read_model(session, TAX)
        saved_life = read_model(session, LIFECYCLE)
    if saved_tax is not None:
        tax_from = date.fromisoformat(saved_tax[0]["from"])
        tax_to = date.fromisoformat(saved_tax[0]["to"])
        tax_rows = saved_tax[0]["rows"]
    else:
        # Adding up a large account's invoices takes a while: the hourly books job (or the
        # Refresh button above) stores the totals, and the page only reads them.
        tax_from, tax_to = default_tax_period(today)
        tax_rows = []
        st.info(
            "Tax totals are computed by the hourly `books` job. Click **Refresh payouts, journal "
            "and drift** above, or run `python -m jobs books`, to compute them now."
        )
    st.subheader("Tax collected per jurisdiction")
    as_of = f" (as of {fmt.when(saved_tax[1], settings.tz)})" if saved_tax else ""
    st.caption(
        f"Paid invoices from {tax_from.isoformat()} to {tax_to.isoformat()}{as_of}; the Reports "
        "page exports any period."
    )
    table(
        [
            {
                "period": r["period"],
                "jurisdiction": r["jurisdiction"],
                "tax type": r["tax_type"],
                "invoices": r["invoices"],
                "taxable": fmt.money(r["taxable_amount"], r["currency"]),
                "tax": fmt.money(r["tax_amount"], r["currency"]),
            }
            for r in tax_rows
        ],
        "No paid invoice carried tax in this period. Tax appears here once Stripe Tax (or tax "
        "rates) are on your invoices.",
        column_config={
            "period": "Month",
            "jurisdiction": "Jurisdiction",
            "tax type": "Tax",
            "invoices": "Invoices",
            "taxable": "Taxable amount",
            "tax": "Tax collected",
        },  # fmt: skip
    )
    st.subheader("Subscription lifecycle")
    if saved_life is None:
        # Like tax: reading every subscription of a large account takes seconds, so the books
        # job stores the summary and the page never computes it on a render.
        st.info(
            "MRR, churn and the at-risk list are computed by the hourly `books` job. Click "
            "**Refresh payouts, journal and drift** above, or run `python -m jobs books`, to "
            "compute them now."
        )
    else:
        lifecycle(lifecycle_from(saved_life[0]), saved_life[1], settings)


def lifecycle(life: LifecycleSummary, as_of: datetime, settings: Settings) -> None:
    """MRR, churn, the funnel and the largest at-risk subscriptions, as the books job saved them."""
    st.caption(f"As of {fmt.when(as_of, settings.tz)}.")
    m1, m2, m3 = st.columns(3)
    m1.metric("MRR", fmt.amounts(life.mrr))
    m2.metric("MRR at risk", fmt.amounts(life.mrr_at_risk))
    m3.metric(
        "Churn (voluntary / involuntary)",
        f"{fmt.number(life.churn.get('voluntary', 0))} / "
        f"{fmt.number(life.churn.get('involuntary', 0))}",
    )
    funnel_chart(life.funnel)
    if life.at_risk_count > len(life.at_risk):
        st.caption(
            f"The {len(life.at_risk)} largest of {fmt.number(life.at_risk_count)} at-risk "
            "subscriptions; export the Lifecycle report for all."
        )
    risk_rows, risk_cfg = link_rows(
        [
            {
                "subscription": r["subscription"],
                "customer": r["customer"],
                "mrr": fmt.money(r["mrr"], r["currency"]),
                "why": r["why"],
            }
            for r in life.at_risk
        ],
        "subscription",
        settings.stripe_mode,
    )
    table(
        risk_rows,
        "No MRR at risk: no subscription is past due or set to cancel.",
        column_config={
            "subscription": "Subscription",
            **risk_cfg,
            "customer": "Customer",
            "mrr": "MRR",
            "why": "Why at risk",
        },  # fmt: skip
    )
