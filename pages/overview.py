"""Overview: the morning check — what failed, what is due, what waits for me, is the sync fresh."""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.reports.overview import dispute_trend, failure_trend, overview, recovery_trend
from dashboard import format as fmt
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.shell import link, spec_for, spec_titled

actor = require_user()
settings = get_settings()
Session = get_sessionmaker()
tz = settings.tz
st.title("Overview")


@st.cache_data(ttl=60, show_spinner=False)
def _trends(database_url: str, minute: int) -> dict[str, list[dict]]:
    # Keyed by the minute: charts follow the data within a minute, not on every rerun.
    with Session() as session:
        return {
            "recovery": recovery_trend(session, settings),
            "disputes": dispute_trend(session, settings),
            "failures": failure_trend(session, settings),
        }


def _tile(title: str, value: str, detail: str, target: str | None, label: str) -> None:
    with st.container(border=True):
        st.metric(title, value)
        st.caption(detail)
        spec = spec_for(target) if target and "/" in target else spec_titled(target or "")
        if not link(spec, actor, label):
            st.caption("Queue page not available for your role.")


@st.fragment(run_every=60)
def tiles() -> None:
    """The tiles; refreshed every minute without rerunning the whole page."""
    now = time.time()
    with Session() as session:
        ov = overview(session, settings, actor, now=now)
    if not ov.has_data:
        st.info(
            "**No data yet — run the sync.** The scheduler started by `make run` syncs every "
            f"{settings.sync_interval_seconds} s; or run `python -m jobs sync --once` now, then "
            "`python -m jobs process --once`."
        )
    r1 = st.columns(3)
    with r1[0]:
        _tile(
            "Failed payments today",
            fmt.number(ov.failed_today),
            f"Still owed on today's failures: {fmt.amounts(ov.failed_today_amounts)}",
            "Failed payments",
            "Open the recovery queue",
        )
    with r1[1]:
        _tile(
            "Amount at risk",
            fmt.amounts(ov.at_risk_amounts, empty="nothing"),
            f"{fmt.number(ov.at_risk_cases)} open recovery cases",
            "Failed payments",
            "Work the open cases",
        )
    with r1[2]:
        _tile(
            "Recovered this month",
            fmt.amounts(ov.recovered_amounts, empty="nothing yet"),
            f"{fmt.plural(ov.recovered_this_month, 'invoice')} paid after a failure",
            "Failed payments",
            "Recovery analytics",
        )
    r2 = st.columns(4)
    with r2[0]:
        nearest = (
            f"Nearest deadline {fmt.when(ov.nearest_due_by, tz)} "
            f"({fmt.countdown(ov.nearest_due_by, now)})"
            if ov.nearest_due_by
            else "No open deadline."
        )
        late = f" · {ov.disputes_past_due} past due" if ov.disputes_past_due else ""
        _tile("Disputes due in 72 h", fmt.number(ov.disputes_due_72h), nearest + late,
              "pages/disputes.py", "Open the deadline board")  # fmt: skip
    with r2[1]:
        waiting = ov.approvals_waiting
        _tile(
            "Waiting for your approval",
            "—" if waiting is None else fmt.number(waiting),
            "Your role does not approve." if waiting is None else "Requests you may decide now",
            "pages/approvals.py",
            "Open approvals",
        )
    with r2[2]:
        d = ov.drift
        detail = (
            "No drift counts recorded yet: open Drift and record today's counts."
            if d.day is None
            else f"As of {d.day:%Y-%m-%d}: "
            + ("; ".join(f"{title}: {n:,}" for title, n in d.worst) or "all checks agree")
        )
        _tile("Drift alarms", fmt.number(d.alarms) if d.day else "—", detail, "pages/drift.py",
              "Open drift")  # fmt: skip
    with r2[3]:
        s = ov.sync
        badge = {"ok": "OK", "failing": "Failing", "stopped": "Stopped"}
        _tile(
            "Sync health",
            badge.get(s.status, "Never synced"),
            f"Lag {fmt.duration(s.max_lag_seconds)} · last success {fmt.when(s.last_success_at, tz)}"
            f" · {fmt.number(s.pending)} unprocessed · {fmt.number(s.dead)} dead letters",
            "pages/sync_health.py",
            "Open sync health",
        )
    st.caption(f"Updated {fmt.when(now, tz, seconds=True)} ({settings.team_timezone}).")


def _chart(frame: pd.DataFrame, bars: str, bar_name: str, line: str | None = None) -> None:
    fig = go.Figure(go.Bar(x=frame["week"], y=frame[bars], name=bar_name))
    if line:
        fig.add_trace(go.Scatter(x=frame["week"], y=frame[line], name="recovery rate %",
                                 yaxis="y2", mode="lines+markers"))  # fmt: skip
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "range": [0, 100]})
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      legend_orientation="h")  # fmt: skip
    st.plotly_chart(fig, width="stretch")


tiles()
st.subheader("Trends (12 weeks, by week)")
with st.spinner("Aggregating trends…"):
    trends = _trends(settings.database_url, int(time.time() // 60))
charts = st.columns(3)
with charts[0]:
    st.markdown("**Recovery**")
    _chart(pd.DataFrame(trends["recovery"]), "opened", "cases opened", "recovery_rate")
with charts[1]:
    st.markdown("**Disputes**")
    _chart(pd.DataFrame(trends["disputes"]), "disputes", "disputes opened")
with charts[2]:
    st.markdown("**Failed-payment volume**")
    _chart(pd.DataFrame(trends["failures"]), "failed_payments", "failed attempts")
