"""Drift: where Stripe, the CRM, entitlements, the bank, sync and approvals disagree.

Reads the last recorded counts and their saved drill-down lists (one small read); the checks
themselves run in the hourly books job or on "Refresh now".
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.drift.checks import open_task, take_snapshot, trend
from core.drift.proposals import proposal_for, proposal_terms, propose
from core.drift.snapshots import latest, saved_items
from core.errors import CoreError
from dashboard import books_widgets as w
from dashboard import format as fmt
from dashboard import request_widgets as rw
from dashboard.auth import require_user
from dashboard.context import get_policy, get_sessionmaker, get_settings

PAGE_SIZE = 50

actor = require_user()
settings = get_settings()
Session = get_sessionmaker()
st.title("Drift")
st.caption("Each check counts the items where two systems disagree. Pick one to see them.")
w.flash()


def _refresh() -> None:
    try:
        with Session.begin() as session:
            take_snapshot(session, settings)
    except CoreError as exc:
        w.flash_later("error", f"The checks could not run: {exc}. Try again in a minute.")
        return
    w.flash_later("success", "Checks re-run; today's counts recorded.")


with Session() as session:
    checks = latest(session)
    history = trend(session)

left, right = st.columns([3, 1])
if checks:
    taken = max(c.taken_at for c in checks)
    left.caption(f"Counts as of {fmt.when(taken, settings.tz)} ({settings.team_timezone}).")
works = rw.may_request(actor)  # operators and above; viewers read
right.button("Refresh now", on_click=_refresh, key="drift_snapshot", disabled=not works,
             help="Re-run every check" if works else "Operators and above re-run the checks.")  # fmt: skip

if not checks:
    st.info(
        "No drift counts recorded yet. Press **Refresh now** to run the checks, or let the "
        "hourly `python -m jobs books` job record them."
    )
    st.stop()

summary = pd.DataFrame(
    [{"area": c.area, "check": c.name, "what": c.title, "count": c.count} for c in checks]
)
w.table(
    summary,
    "No checks.",
    column_config={
        "area": st.column_config.TextColumn("Area"),
        "check": st.column_config.TextColumn("Check"),
        "what": st.column_config.TextColumn("What disagrees"),
        "count": st.column_config.NumberColumn("Items", format="%d"),
    },
)
w.trend_chart(history)

by_name = {c.name: c for c in checks}
picked = st.selectbox(
    "Drill down",
    list(by_name),
    format_func=lambda n: f"{by_name[n].title} ({fmt.number(by_name[n].count)})",
    key="drift_check",
)
check = by_name[str(picked)]
if check.metric:
    st.caption(
        ", ".join(
            f"{k.replace('_', ' ')}: {fmt.number(v) if isinstance(v, int | float) else v or '—'}"
            for k, v in check.metric.items()
        )
    )
pages = max(1, -(-check.stored_items // PAGE_SIZE))
page = int(st.number_input("Page", 1, pages, 1, key=f"drift_page_{check.name}")) if pages > 1 else 1
with Session() as session:
    items = saved_items(session, check.name, PAGE_SIZE, (page - 1) * PAGE_SIZE)
if check.count > check.stored_items:
    st.caption(
        f"Showing the first {fmt.number(check.stored_items)} of {fmt.number(check.count)} "
        "items; export the Drift report for all of them."
    )
rows = [
    {
        "item": i.key,
        "link": fmt.stripe_url(i.key, settings.stripe_mode),
        "detail": i.summary,
        "difference": fmt.money(i.amount, i.currency) if i.amount is not None else "",
    }
    for i in items
]
if not any(r["link"] for r in rows):  # sandbox mode or no Stripe ids: plain text only
    rows = [{k: v for k, v in r.items() if k != "link"} for r in rows]
w.table(
    rows,
    "Nothing to look at here: the two systems agree.",
    column_config={
        "item": st.column_config.TextColumn("Item"),
        "link": st.column_config.LinkColumn("Stripe", display_text="Open in Stripe"),
        "detail": st.column_config.TextColumn("Detail"),
        "difference": st.column_config.TextColumn("Difference"),
    },
)
if items:
    keys = [i.key for i in items]
    item_key = st.selectbox("Item", keys, key="drift_item")
    item = items[keys.index(item_key)]
    proposal = proposal_for(item)
    if proposal is not None:
        if rw.may_request(actor):
            st.markdown(f"**Proposed fix: {proposal[1].lower()} for {fmt.md_text(item.key)}**")
        rw.request_panel(
            f"drift_{proposal[0]}_{item.key}",
            actor,
            terms=lambda s, _amount: proposal_terms(s, item, policy=get_policy()),
            submit=lambda s, _amount, why: propose(s, actor, item, why, policy=get_policy()),
            button=f"Request: {proposal[1].lower()}",
        )
    elif st.button("Open an internal task", key="drift_task", disabled=not works):
        try:
            with Session.begin() as session:
                task = open_task(session, actor, item, policy=get_policy())
                task_id = task.id
            st.success(f"Task #{task_id} is open for {fmt.md_text(item.key)} (see Approvals).")
        except CoreError as exc:
            st.error(f"{exc} Ask an operator to open the task.")
