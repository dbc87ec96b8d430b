"""Sync health: is every account's Stripe sync fresh, what failed, and what is stuck."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.sync.connect import synced_accounts
from core.sync.health import (
    account_health,
    dead_letters,
    first_load,
    queue_health,
    storage_health,
    sync_history,
    sync_history_total,
    webhook_reject_details,
    webhook_rejects,
)
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.format import md_text

require_user()
MANY = 10  # beyond this (a Connect platform): one table, cards only where action is needed
settings = get_settings()
st.title("Sync health")
st.caption(
    f"Stripe events are polled every {settings.sync_interval_seconds} s; an account whose sync "
    "has not succeeded within 3 intervals is shown as failing."
)

with get_sessionmaker()() as session:
    loading = first_load(session, synced_accounts(session, settings))
    accounts = account_health(session, settings)
    queue = queue_health(session)
    rejects = webhook_rejects(session)
    webhook_counts = webhook_reject_details(session)
    dead = dead_letters(session)
    # one line for all accounts when there are many (a Connect platform), else one per account
    many = len(accounts) > MANY
    history = (sync_history_total if many else sync_history)(session, hours=24)
    storage = storage_health(session, settings)

if not loading.complete:
    st.info(loading.sentence(), icon=":material/hourglass_top:")
    if loading.lists_total:
        st.progress(loading.lists_done / loading.lists_total)

BADGE = {
    "ok": ":green-badge[OK]",
    "failing": ":red-badge[Failing]",
    "stopped": ":red-badge[Stopped]",
    "never": ":gray-badge[Never synced]",
}
shown = accounts
if many:
    counts = Counter(a.status for a in accounts)
    m = st.columns(4)
    for col, (status, label) in zip(
        m,
        (("ok", "OK"), ("failing", "Failing"), ("stopped", "Stopped"), ("never", "Never synced")),
        strict=True,
    ):
        col.metric(f"Accounts {label.lower()}", f"{counts.get(status, 0):,}")
    table = pd.DataFrame(
        {
            "Account": [a.label for a in accounts],
            "Status": [a.status for a in accounts],
            "Lag (s)": [a.lag_seconds for a in accounts],
            "Events / hour": [a.events_last_hour for a in accounts],
            "Last success": [
                a.last_success_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
                if a.last_success_at
                else "never"
                for a in accounts
            ],
            "Backfill": [a.backfill or "not run" for a in accounts],
            "Last error": [a.last_error or "" for a in accounts],
        }
    )
    st.dataframe(table, hide_index=True, use_container_width=True)
    shown = [a for a in accounts if a.status != "ok"][:MANY]
    if shown:
        st.caption(f"The first {len(shown)} accounts that are not OK:")
for a in shown:
    with st.container(border=True):
        top = st.columns([2, 1, 1, 1, 1])
        top[0].subheader(f"{md_text(a.label)} — {BADGE.get(a.status, md_text(a.status))}")
        top[1].metric("Lag", "n/a" if a.lag_seconds is None else f"{a.lag_seconds:,.0f} s")
        top[2].metric("Events / hour", f"{a.events_last_hour:,}")
        top[3].metric("Duplicates suppressed", f"{a.duplicates:,}")
        top[4].metric("Retries", f"{a.retries:,}")
        last = (
            a.last_success_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S")
            if a.last_success_at
            else "never"
        )
        st.caption(
            f"Last success: {last} · cursor `{a.cursor or '—'}` · requests {a.requests:,} · "
            f"errors {a.errors:,} · backfill {a.backfill or 'not run'}"
        )
        if a.unsupported:
            st.warning(
                "This Stripe server does not support everything the sync uses; the sync works "
                "around it as follows (a fake such as localstripe, or an old API version):",
                icon=":material/construction:",
            )
            st.text("\n".join(f"• {u}" for u in a.unsupported))  # server text: shown as text
        if a.backfill == "partial" and a.backfill_error:
            st.warning("First load incomplete: some lists failed after their retries.")
            st.text(a.backfill_error)
        if a.status == "stopped":
            st.error(md_text(a.last_error))
        elif a.last_error:
            st.warning(
                f"Last error: {md_text(a.last_error)}. The sync retries on its next run; run "
                "`python -m jobs sync --once` to try now."
            )
        elif a.status == "never":
            st.info(
                "Not synced yet: start the scheduler (`make run`) or run `python -m jobs sync --once`."
            )

c1, c2, c3, c4 = st.columns(4)
c1.metric("Unprocessed", f"{queue.pending:,}")
c2.metric("Retrying", f"{queue.retrying:,}")
c3.metric("Dead letters", f"{queue.dead:,}")
c4.metric("Webhook rejects", f"{sum(rejects.values()):,}")
if webhook_counts:
    st.subheader("Webhook deliveries refused or not applied")
    st.caption(
        "Each refusal was answered with a 4xx (or 503 when too many connections were open) "
        "naming its reason; events of a type the desk does not know were answered 200 and "
        "stored for audit, but change no snapshot."
    )
    st.dataframe(pd.DataFrame(webhook_counts), hide_index=True, use_container_width=True)

st.subheader("Storage")
if not storage.ok:
    st.error("The database failed its check; the jobs stop until it is fixed:")
    st.text(storage.check)
elif storage.errors:
    st.warning(f"{storage.errors:,} storage failures recorded by the jobs; the last one:")
    st.text(f"{storage.last_at}: {storage.last_error}")
else:
    st.caption("The database passes its check; no storage failure recorded.")

st.subheader("Receipt rate and lag (24 h)")
if history:
    frame = pd.DataFrame([p.__dict__ for p in history])
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for account, part in frame.groupby("account"):
        fig.add_trace(go.Bar(x=part["at"], y=part["events_per_hour"], name=f"{account} events/h"))
        fig.add_trace(
            go.Scatter(
                x=part["at"],
                y=part["lag_seconds"],
                name=f"{account} lag (s)",
                mode="lines",
            ),
            secondary_y=True,
        )
    fig.update_yaxes(title_text="events per hour", secondary_y=False)
    fig.update_yaxes(title_text="lag (s)", secondary_y=True)
    fig.update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend_orientation="h"
    )
    st.plotly_chart(fig, use_container_width=True)
else:
    st.info("No sync runs in the last 24 hours.")

st.subheader("Dead letters")
if dead:
    st.dataframe(pd.DataFrame(dead), hide_index=True, use_container_width=True)
    st.caption(
        "Fix the cause, then re-queue: `python -m jobs process --replay <event id>` or `--all-dead`."
    )
else:
    st.success("No dead letters.")
