"""Payouts & books: payout reconciliation, bank matching, journal batches and tax.

Everything shown is a SQL aggregate or one page of rows. Bank matching over a window is cached
for a few minutes and dropped whenever this page changes the data; tax for the period and the
subscription picture are read models the books job stores. Each tab is drawn by a dashboard
widget module (payouts_widgets, journal_widgets, books_widgets).
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from core.drift.refresh import refresh_books
from core.errors import CoreError
from core.governance.auth import has_role
from dashboard import books_widgets as w
from dashboard import format as fmt
from dashboard import journal_widgets as jw
from dashboard import payouts_widgets as pw
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings

actor = require_user()
settings = get_settings()
Session = get_sessionmaker()
st.title("Payouts & books")
w.flash()


def _refresh() -> None:
    try:
        figures = refresh_books(Session, settings, actor=actor)
    except CoreError as exc:
        w.flash_later("error", f"Refresh failed: {exc}. Check the Stripe settings and try again.")
        return
    pw.bank_matching.clear()
    w.flash_later("success", f"Checked {fmt.number(figures['payouts_checked'])} payouts, updated "
                  f"{fmt.number(figures['journal_batches'])} journal batches.")  # fmt: skip


st.button(
    "Refresh payouts, journal and drift",
    on_click=_refresh,
    key="books_refresh",
    disabled=not has_role(actor, "operator", "approver", "admin"),
    help=None if has_role(actor, "operator") else "Operators and above refresh the books.",
)
payouts_tab, bank_tab, journal_tab, tax_tab = st.tabs(
    ["Payouts", "Bank deposits", "Journal", "Tax & lifecycle"]
)
today = datetime.now(UTC).astimezone(settings.tz).date()

with payouts_tab:
    pw.payouts_tab(Session, settings)
with bank_tab:
    pw.bank_tab(Session, settings, today, actor)
with journal_tab:
    jw.journal_tab(Session, settings, actor)
with tax_tab:
    w.tax_and_lifecycle(Session, settings, today)
