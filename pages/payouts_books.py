"""Payouts & books: payout reconciliation, bank matching, journal batches and tax.

Everything shown is a SQL aggregate or one page of rows; the slower analyses (bank matching
over a window, tax for the period, the subscription picture) are cached for a few minutes and
dropped whenever this page changes the data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import streamlit as st

from core.bank_matching import MatchResult
from core.bank_reconciliation import match_bank
from core.books_refresh import refresh_books
from core.books_views import (
    LIFECYCLE,
    TAX,
    LifecycleSummary,
    batch_count,
    default_tax_period,
    lifecycle_from,
    payout_state_counts,
    read_model,
    recent_payouts,
)
from core.errors import CoreError
from core.imports import IMPORTERS
from core.journal import batch_currencies, export_batch, list_batches
from core.journal_export import FORMAT_TITLES
from dashboard import books_widgets as w
from dashboard import format as fmt
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings

PAGE_SIZE = 50
BANK_WINDOW_DAYS = 90
CACHE_S = 300

actor = require_user()
settings = get_settings()
Session = get_sessionmaker()
st.title("Payouts & books")
w.flash()


@st.cache_data(ttl=CACHE_S, show_spinner="Matching bank deposits…")
def _bank(db_url: str, since: date) -> MatchResult:
    with get_sessionmaker()() as session:
        return match_bank(session, date_from=since)


def _forget() -> None:
    _bank.clear()


def _refresh() -> None:
    try:
        figures = refresh_books(Session, settings)
    except CoreError as exc:
        w.flash_later("error", f"Refresh failed: {exc}. Check the Stripe settings and try again.")
        return
    _forget()
    w.flash_later("success", f"Checked {fmt.number(figures['payouts_checked'])} payouts, updated "
                  f"{fmt.number(figures['journal_batches'])} journal batches.")  # fmt: skip


def _link_rows(rows: list[dict[str, Any]], id_key: str) -> tuple[list[dict[str, Any]], dict]:
    """Add a Stripe link column when there are links (not in sandbox mode)."""
    links = [fmt.stripe_url(r[id_key], settings.stripe_mode) for r in rows]
    if not any(links):
        return rows, {}
    out = [{id_key: r[id_key], "stripe": u, **r} for r, u in zip(rows, links, strict=True)]
    return out, {"stripe": st.column_config.LinkColumn("Stripe", display_text="Open in Stripe")}


def _lifecycle(life: LifecycleSummary, as_of: datetime) -> None:
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
    w.funnel_chart(life.funnel)
    if life.at_risk_count > len(life.at_risk):
        st.caption(
            f"The {len(life.at_risk)} largest of {fmt.number(life.at_risk_count)} at-risk "
            "subscriptions; export the Lifecycle report for all."
        )
    risk_rows, risk_cfg = _link_rows(
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
    )
    w.table(
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


st.button("Refresh payouts, journal and drift", on_click=_refresh, key="books_refresh")
payouts_tab, bank_tab, journal_tab, tax_tab = st.tabs(
    ["Payouts", "Bank deposits", "Journal", "Tax & lifecycle"]
)
today = datetime.now(UTC).astimezone(settings.tz).date()

with payouts_tab, Session() as session:
    counts = payout_state_counts(session)
    cols = st.columns(4)
    for col, state in zip(
        cols, ("reconciled", "waiting", "mismatch", "paid_then_failed"), strict=True
    ):
        col.metric(state.replace("_", " ").capitalize(), fmt.number(counts.get(state, 0)))
    if counts.get("paid_then_failed"):
        st.warning("Some payouts were reported paid and then failed: reverse their deposits.")
    total = sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = int(st.number_input("Page", 1, pages, 1, key="payouts_page")) if pages > 1 else 1
    rows = [
        {
            "payout": r.payout_id,
            "arrival": r.arrival_date.isoformat() if r.arrival_date else "—",
            "status": r.status,
            "state": r.state.replace("_", " "),
            **{
                k: fmt.money(getattr(r, k), r.currency)
                for k in ("amount", "gross", "fees", "refunds", "disputes", "net", "difference")
            },
            "transactions": r.transaction_count,
            "note": r.note or "",
        }
        for r in recent_payouts(session, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    ]
    rows, link_cfg = _link_rows(rows, "payout")
    if total > PAGE_SIZE:
        st.caption(f"{fmt.number(total)} payouts, newest arrival first; page {page} of {pages}.")
    w.table(
        rows,
        "No payouts reconciled yet: sync from Stripe, then press Refresh above.",
        column_config={
            "payout": st.column_config.TextColumn("Payout"),
            **link_cfg,
            "arrival": st.column_config.TextColumn("Arrival date"),
            "status": st.column_config.TextColumn("Stripe status"),
            "state": st.column_config.TextColumn("Reconciliation"),
            **{
                k: st.column_config.TextColumn(k.capitalize())
                for k in ("amount", "gross", "fees", "refunds", "disputes", "net", "difference")
            },
            "transactions": st.column_config.NumberColumn("Transactions", format="%d"),
            "note": st.column_config.TextColumn("Note"),
        },  # fmt: skip
    )

with bank_tab:
    upload = st.file_uploader(
        "Import a bank statement (CSV)", type=["csv", "txt"], key="bank_upload"
    )
    if upload is not None and st.button("Import statement", key="bank_import"):
        try:
            with Session.begin() as session:
                result = IMPORTERS["bank"].run(session, upload.getvalue())
            _forget()
            w.import_result(result)
        except CoreError as exc:
            st.error(f"{exc} Fix the file and upload it again.")
    since = today - timedelta(days=BANK_WINDOW_DAYS)
    matching = _bank(settings.database_url, since)
    st.caption(f"Payouts arriving since {since.isoformat()} and the deposits around them.")
    a, b, c = st.columns(3)
    a.metric("Matched payouts", fmt.number(len(matching.matches)))
    b.metric("Unmatched payouts", fmt.number(len(matching.unmatched_payouts)))
    c.metric("Unmatched deposits", fmt.number(len(matching.unmatched_deposits)))
    unmatched = [
        {
            "side": u.side,
            "id": u.id if u.side == "payout" else f"deposit {u.id}",
            "date": u.on.isoformat(),
            "amount": fmt.money(u.amount, u.currency),
            "likely reason": u.reason,
        }
        for u in (matching.unmatched_payouts + matching.unmatched_deposits)[:500]
    ]
    w.table(
        unmatched,
        "Nothing unmatched. Import the latest bank statement to keep it that way.",
        column_config={
            "side": "Side",
            "id": "Payout / deposit",
            "date": "Date",
            "amount": "Amount",
            "likely reason": "Likely reason",
        },  # fmt: skip
    )
    with st.expander("Matched payouts"):
        w.table(
            [
                {
                    "payout": m.payout_id,
                    "deposits": ", ".join(m.deposit_ids),
                    "how": m.method,
                    "days late": m.days_late,
                }
                for m in matching.matches[:500]
            ],
            "No matches yet: import a bank statement (CSV) above.",
            column_config={
                "payout": "Payout",
                "deposits": "Deposit ids",
                "how": "Matched by",
                "days late": "Days late",
            },  # fmt: skip
        )

with Session() as session:  # read, then close: the export below writes
    batches = list_batches(session, limit=100)
    currencies = batch_currencies(session, [b.id for b in batches])
    n_batches = batch_count(session)
    session.expunge_all()

with journal_tab:
    if n_batches > len(batches):
        st.caption(f"The {len(batches)} most recent of {fmt.number(n_batches)} batches.")
    w.table(
        [
            {
                "id": b.id,
                "batch": b.key,
                "entries": b.entry_count,
                "debits": fmt.money(b.total_debit, currencies.get(b.id)),
                "exported": fmt.when(b.exported_at, settings.tz) if b.exported_at else "not yet",
                "exports": b.export_count,
            }
            for b in batches
        ],
        "No journal batches yet: press Refresh above to book the synced balance transactions.",
        column_config={
            "id": "#",
            "batch": "Batch",
            "entries": "Entries",
            "debits": "Total debits",
            "exported": f"Exported ({settings.team_timezone})",
            "exports": "Exports",
        },  # fmt: skip
    )
    if batches:
        with st.form("journal_export"):
            pick = st.selectbox("Batch", [b.key for b in batches], key="journal_batch")
            fmt_name = st.selectbox(
                "Format", list(FORMAT_TITLES), format_func=FORMAT_TITLES.get, key="journal_fmt"
            )
            force = st.checkbox("Export again (marked as a re-export)", key="journal_force")
            go = st.form_submit_button("Export batch")
        if go:
            try:
                with Session.begin() as tx:
                    out = export_batch(tx, settings, str(pick), str(fmt_name), force=force,
                                       actor=actor)  # fmt: skip
                st.session_state["journal_file"] = (out.filename, out.data)
            except CoreError as exc:
                st.error(str(exc))
        if "journal_file" in st.session_state:
            name, data = st.session_state["journal_file"]
            st.download_button(
                f"Download {name}", data, file_name=name, mime="text/csv", key="journal_dl"
            )

with tax_tab:
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
    w.table(
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
        _lifecycle(lifecycle_from(saved_life[0]), saved_life[1])
