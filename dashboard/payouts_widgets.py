"""Widgets of the Payouts & books page: payout reconciliation and bank deposit matching."""

from __future__ import annotations

from datetime import date

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.books import figures
from core.books.bank_matching import BankMatching
from core.books.bank_reconciliation import payout_accounts
from core.books.views import payout_state_counts, recent_payouts
from core.config import Settings
from core.errors import CoreError
from core.governance.auth import Actor, has_role
from core.imports import IMPORTERS
from core.sync.connect import synced_accounts
from dashboard import books_widgets as w
from dashboard import format as fmt
from dashboard.context import get_sessionmaker

PAGE_SIZE = 50
CACHE_S = 300
MONEY_COLUMNS = ("amount", "gross", "fees", "refunds", "disputes", "net", "difference")


@st.cache_data(ttl=CACHE_S, show_spinner="Matching bank deposits…")
def bank_matching(db_url: str, today: date) -> BankMatching:
    """The bank figures' window matched, per account, kept a few minutes (keyed by database)."""
    with get_sessionmaker()() as session:
        return figures.bank_matching(session, today=today)


def payouts_tab(Session: sessionmaker[Session], settings: Settings) -> None:
    """Payout counts per reconciliation state and one page of payouts, newest first."""
    with Session() as session:
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
                **{k: fmt.money(getattr(r, k), r.currency) for k in MONEY_COLUMNS},
                "transactions": r.transaction_count,
                "note": r.note or "",
            }
            for r in recent_payouts(session, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        ]
        rows, link_cfg = w.link_rows(rows, "payout", settings.stripe_mode)
        if total > PAGE_SIZE:
            st.caption(
                f"{fmt.number(total)} payouts, newest arrival first; page {page} of {pages}."
            )
        w.table(
            rows,
            "No payouts reconciled yet: sync from Stripe, then press Refresh above.",
            column_config={
                "payout": st.column_config.TextColumn("Payout"),
                **link_cfg,
                "arrival": st.column_config.TextColumn("Arrival date"),
                "status": st.column_config.TextColumn("Stripe status"),
                "state": st.column_config.TextColumn("Reconciliation"),
                **{k: st.column_config.TextColumn(k.capitalize()) for k in MONEY_COLUMNS},
                "transactions": st.column_config.NumberColumn("Transactions", format="%d"),
                "note": st.column_config.TextColumn("Note"),
            },  # fmt: skip
        )


def statement_account(Session: sessionmaker[Session], settings: Settings, key: str) -> str:
    """Pick the Stripe account a bank statement belongs to (platform first)."""
    with Session() as session:
        known = payout_accounts(session)
        synced = synced_accounts(session, settings)
    options = list(dict.fromkeys([*known, *synced]))
    return str(
        st.selectbox(
            "Stripe account of this statement",
            options,
            format_func=lambda a: a or "platform",
            help="Each connected account is paid out to its own bank account: import each "
            "account's statement separately.",
            key=key,
        )
    )


def bank_tab(Session: sessionmaker[Session], settings: Settings, today: date, actor: Actor) -> None:
    """Bank statement upload per account (operators and above, audited), then each account's
    payouts matched (or not) to the deposits of its own statement."""
    if has_role(actor, "operator"):
        _bank_upload(Session, settings, actor)
    else:
        st.caption("Importing a bank statement is for operators and above.")
    _bank_matching_view(settings, today)


def _bank_upload(Session: sessionmaker[Session], settings: Settings, actor: Actor) -> None:
    upload = st.file_uploader(
        "Import a bank statement (CSV)", type=["csv", "txt"], key="bank_upload"
    )
    account = statement_account(Session, settings, "bank_account")
    if upload is not None and st.button("Import statement", key="bank_import"):
        try:
            with Session.begin() as session:
                result = IMPORTERS["bank"].run_for(
                    session, actor, upload.getvalue(), account=account
                )
            bank_matching.clear()
            w.import_result(result)
        except CoreError as exc:
            st.error(f"{fmt.md_text(exc)} Fix the file and upload it again.")


def _bank_matching_view(settings: Settings, today: date) -> None:
    since, until = figures.bank_window(today)
    matching = bank_matching(settings.database_url, today)
    st.caption(
        f"Payouts arriving and deposits posted from {since.isoformat()} to {until.isoformat()}, "
        "each account against its own statement."
    )
    a, b, c, d = st.columns(4)
    a.metric("Matched payouts", fmt.number(len(matching.matches)))
    b.metric("Unmatched payouts", fmt.number(len(matching.unmatched_payouts)))
    c.metric("Unmatched deposits", fmt.number(len(matching.unmatched_deposits)))
    d.metric("Accounts without a statement", fmt.number(len(matching.without_statement)))
    if matching.without_statement:
        st.info(
            "No bank statement imported for "
            + ", ".join(f"{x.label} ({fmt.number(x.payouts)} payouts)"
                        for x in matching.without_statement[:20])
            + ": their payouts are not counted as missing. Import each account's statement "
            "above, choosing its account."
        )  # fmt: skip
    w.table(
        [
            {
                "account": x.label,
                "statement": "imported" if x.has_statement else "no statement imported",
                "payouts": x.payouts,
                "matched": len(x.result.matches),
                "unmatched payouts": len(x.result.unmatched_payouts),
                "unmatched deposits": len(x.result.unmatched_deposits),
            }
            for x in matching.accounts[:500]
        ],
        "No payouts and no statements yet.",
        column_config={"account": "Stripe account", "statement": "Bank statement"},
    )
    unmatched = [
        {
            "account": u.account or "platform",
            "side": u.side,
            "id": u.id if u.side == "payout" else u.label,
            "date": u.on.isoformat(),
            "amount": fmt.money(u.amount, u.currency),
            "likely reason": u.reason,
        }
        for u in (
            matching.unmatched_payouts
            + matching.unmatched_deposits
            + matching.unmatched_withdrawals
        )[:500]
    ]
    w.table(
        unmatched,
        "Nothing unmatched. Import the latest bank statement to keep it that way.",
        column_config={
            "account": "Stripe account",
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
                    "account": m.account or "platform",
                    "payout": m.payout_id,
                    "date": m.on.isoformat() if m.on else "",
                    "amount": fmt.money(m.amount, m.currency),
                    "deposits": "; ".join(m.deposit_labels),
                    "how": m.method,
                    "days late": m.days_late,
                }
                for m in matching.matches[:500]
            ],
            "No matches yet: import a bank statement (CSV) above.",
            column_config={
                "account": "Stripe account",
                "payout": "Payout",
                "date": "Arrival date",
                "amount": "Amount",
                "deposits": "Deposits",
                "how": "Matched by",
                "days late": "Days late",
            },  # fmt: skip
        )
