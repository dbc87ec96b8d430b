"""Home: what the desk is connected to, and whether there is data yet."""

from __future__ import annotations

import streamlit as st

from core.config import redact_url
from core.sync.connect import describe, synced_accounts
from core.sync.store_summary import store_summary
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.shell import endpoint_label, sees_infrastructure

settings = get_settings()
st.title("Connection")
st.caption(
    "What Ledgerdesk is connected to. Finance operations for your Stripe account: recovery, "
    "disputes, books and drift."
)

mode_label = {
    "sandbox": "the built-in sandbox (demo data, no real money)",
    "test": "Stripe in test mode",
    "live": "Stripe in live mode",
}[settings.stripe_mode]
c1, c2, c3 = st.columns(3)
c1.metric("Connected to", settings.stripe_mode.capitalize(), help=mode_label)
if sees_infrastructure(require_user()):
    c2.metric("Stripe endpoint", endpoint_label(settings))
    c3.metric("Database", settings.database_kind, help=redact_url(settings.database_url))
with get_sessionmaker()() as session:
    synced = synced_accounts(session, settings)
    summary = store_summary(session)
if len(synced) > 1 or settings.connect_all:
    st.caption("Syncs " + describe(synced, settings))

if summary.empty:
    st.info(
        "**No data yet — run the sync.** The scheduler started by `make run` syncs every "
        f"{settings.sync_interval_seconds} s; or run `python -m jobs sync --once` now."
    )
else:
    a, b, c = st.columns(3)
    a.metric("Events stored", f"{summary.events:,}")
    b.metric("Stripe objects", f"{summary.objects:,}")
    last = summary.last_success_at
    c.metric(
        "Last successful sync",
        last.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if last else "never",
    )
