"""Until the first complete load from Stripe has finished, pages say so instead of showing
figures computed from half an account."""

from __future__ import annotations

import streamlit as st

from core.config import Settings
from core.sync.connect import registered_accounts
from core.sync.health import FirstLoad, first_load
from dashboard.context import get_sessionmaker


def connected_accounts(settings: Settings) -> tuple[str, ...]:
    """The connected accounts the sync covers: STRIPE_ACCOUNTS, or the ones it found (=all)."""
    if not settings.connect_all:
        return tuple(settings.stripe_accounts)
    with get_sessionmaker()() as session:
        return tuple(registered_accounts(session))


@st.cache_data(ttl=5, show_spinner=False)
def first_load_status(database_url: str, accounts: tuple[str, ...]) -> FirstLoad | None:
    """The first load's progress while it runs; None once it is complete (one small query at
    most every few seconds)."""
    with get_sessionmaker()() as session:
        status = first_load(session, ["", *accounts])
    return None if status.complete else status


def show_loading(status: FirstLoad, database_url: str, accounts: tuple[str, ...]) -> None:
    """The panel a figures page shows while the first load runs; it reloads the page itself
    when the load has finished."""
    st.title("Loading from Stripe")
    st.info(status.sentence(), icon=":material/hourglass_top:")
    if status.lists_total:
        st.progress(
            status.lists_done / status.lists_total,
            text=f"{status.lists_done} of {status.lists_total} lists",
        )
    st.caption(
        "Customers, subscriptions, open invoices, disputes and payouts are loaded whatever "
        "their age, then the last 90 days. This page opens by itself when the load is done; "
        "the Sync health page shows each account."
    )
    _watch(database_url, accounts)


@st.fragment(run_every=5)
def _watch(database_url: str, accounts: tuple[str, ...]) -> None:
    with get_sessionmaker()() as session:
        done = first_load(session, ["", *accounts]).complete
    if done:
        first_load_status.clear()
        st.rerun(scope="app")
