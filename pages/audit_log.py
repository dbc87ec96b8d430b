"""Audit log: every request, decision, execution and sign-in — searchable, filterable, exportable."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st

from core import audit
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.widgets import when

require_user()
settings = get_settings()
Session = get_sessionmaker()


@st.cache_data(ttl=60, show_spinner="Verifying the hash chain…")
def chain_status(_version: int) -> tuple[bool, str]:
    """Walk the chain (cached for a minute; the button bumps _version to re-check now)."""
    with Session() as session:
        result = audit.verify(session)
    return result.ok, result.summary()


st.title("Audit log")
left, right = st.columns([4, 1])
if right.button("Verify now"):
    st.session_state["audit_verify_version"] = st.session_state.get("audit_verify_version", 0) + 1
ok, summary = chain_status(st.session_state.get("audit_verify_version", 0))
(left.success if ok else left.error)(
    summary
    if ok
    else summary + " — the log was altered outside Ledgerdesk; keep a copy and investigate."
)

with Session() as session:
    actors, action_names = audit.distinct_values(session)

c1, c2, c3, c4 = st.columns(4)
text = c1.text_input("Search", placeholder="actor, action or target")
actor = c2.selectbox("Actor", ["(all)", *actors])
prefixes = sorted({a.split(".")[0] for a in action_names} | set(action_names))
action = c3.selectbox("Action", ["(all)", *prefixes])
target = c4.text_input("Target", placeholder="action:12, user:pat, ch_…")
today = datetime.now(settings.tz).date()
dates = st.date_input("Dates", value=(today - timedelta(days=30), today), max_value=today)
start, end = (
    dates if isinstance(dates, tuple) and len(dates) == 2 else (today - timedelta(days=30), today)
)
filt = audit.AuditFilter(
    text=text.strip(),
    actor="" if actor == "(all)" else actor,
    action="" if action == "(all)" else action,
    target=target.strip(),
    date_from=datetime.combine(start, time.min, settings.tz),
    date_to=datetime.combine(end + timedelta(days=1), time.min, settings.tz),
)

with Session() as session:
    entries = audit.search(session, filt, limit=500)
    csv_text = audit.export_csv(session, filt)

st.caption(
    f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} shown (newest first, up to 500)."
)
st.dataframe(
    [
        {
            "#": e.id,
            "when": when(e.at, settings.tz),
            "actor": e.actor,
            "role": e.actor_role,
            "action": e.action,
            "target": e.target,
            "before": str(e.before or ""),
            "after": str(e.after or ""),
        }
        for e in entries
    ],
    hide_index=True,
    width="stretch",
)
st.download_button("Download CSV", data=csv_text, file_name="ledgerdesk-audit.csv", mime="text/csv")
