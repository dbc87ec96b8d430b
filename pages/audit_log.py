"""Audit log: every request, decision, execution and sign-in — searchable, filterable, exportable."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, time, timedelta

import streamlit as st

from core.governance import audit
from core.governance.audit_text import customer_names, describe, ids_of
from dashboard.audit_widgets import anchor_status
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.sign_in_widgets import failed_sign_ins
from dashboard.widgets import when

require_user()
settings = get_settings()
Session = get_sessionmaker()
PAGE_SIZE = 100
STEP_ROWS = 5000  # entries verified per refresh while catching up (keeps each render short)


@st.cache_resource
def _chain_checkpoints() -> tuple[threading.Lock, dict[str, audit.VerifyResult]]:
    """The last verification result per database, shared by every session of this process."""
    return threading.Lock(), {}


@st.cache_data(ttl=3600, show_spinner=False)
def _walk_epoch(url: str) -> str:
    """Changes hourly (and when caches are cleared): the walk then starts over from entry one."""
    return uuid.uuid4().hex


def _checkpoint_key() -> str:
    return f"{settings.database_url}#{_walk_epoch(settings.database_url)}"


def chain_status(full: bool = False) -> audit.VerifyResult:
    """Continue from the last verified entry (only new entries are read); `full` walks it all."""
    # Resuming only re-checks the last verified entry, so an edit further back is caught by the
    # hourly fresh walk (in steps, like after a restart) or at once by "Verify now".
    lock, results = _chain_checkpoints()
    key = _checkpoint_key()
    with lock:
        last = None if full else results.get(key)
    if last is not None and not last.ok:
        return last  # a broken chain stays reported until someone re-checks it
    with Session() as session:
        result = audit.verify_from(session, last, max_rows=None if full else STEP_ROWS)
    with lock:
        for stale in [k for k in results if k != key and k.startswith(settings.database_url + "#")]:
            del results[stale]  # an earlier hour's walk
        results[key] = result
    return result


@st.cache_data(ttl=300, show_spinner=False)
def filter_choices(url: str) -> tuple[list[str], list[str]]:
    """Actors and action names for the dropdowns (a few minutes old at most)."""
    with Session() as session:
        actors, action_names = audit.distinct_values(session)
    prefixes = sorted({a.split(".")[0] for a in action_names} | set(action_names))
    return actors, prefixes


st.title("Audit log")


def status_line() -> None:
    """The chain status: catches up in steps on a fresh start, then checks only new entries."""
    left, right = st.columns([4, 1])
    if right.button("Verify now", help="Re-check the whole chain from the first entry."):
        with st.spinner("Verifying the whole hash chain…"):
            result = chain_status(full=True)
    else:
        result = chain_status()
    if result.ok and result.complete:
        left.success(result.summary())
        st.caption("New entries are checked as they arrive; Verify now re-checks every entry.")
    elif result.ok:
        left.info(result.summary())
    else:
        left.error(
            result.summary()
            + " — the log was altered outside Ledgerdesk; keep a copy and investigate."
        )
    anchor_status(Session, settings)  # the anchored head: a cut tail, a recomputed chain


# The status refreshes itself: every few seconds while catching up (restart, hourly walk), then
# every half minute (each refresh reads only the entries appended since the last one).
with _chain_checkpoints()[0]:
    _known = _chain_checkpoints()[1].get(_checkpoint_key())
_catching_up = _known is None or (_known.ok and not _known.complete)
st.fragment(run_every=2 if _catching_up else 30)(status_line)()
failed_sign_ins(Session, settings)

actors, prefixes = filter_choices(settings.database_url)

c1, c2, c3, c4 = st.columns(4)
text = c1.text_input("Search", placeholder="refund, a customer, 175.10, a user…")
actor = c2.selectbox("Actor", ["(all)", *actors])
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

# Keyset paging: a stack of "after this row" cursors, reset whenever the filter changes.
if st.session_state.get("audit_filter") != filt:
    st.session_state["audit_filter"] = filt
    st.session_state["audit_cursors"] = []
cursors: list[tuple[datetime, int]] = st.session_state["audit_cursors"]

with Session() as session:
    rows = audit.search(session, filt, limit=PAGE_SIZE + 1, before=cursors[-1] if cursors else None)
entries, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE

first = len(cursors) * PAGE_SIZE + 1
st.caption(
    f"Entries {first}–{first + len(entries) - 1}, newest first."
    if entries
    else "No entry matches these filters; widen the dates or clear the search."
)
with Session() as session:
    names = customer_names(session, [i for e in entries for i in ids_of(e)])
st.dataframe(
    [
        {
            "When": when(e.at, settings.tz),
            "What happened": describe(e, names),
            "Who": f"{e.actor} ({e.actor_role})",
            "#": e.id,
        }
        for e in entries
    ],
    hide_index=True,
    width="stretch",
    column_config={"What happened": st.column_config.TextColumn(width="large")},
)
if entries:
    with st.expander("Details of one entry (the stored record)"):
        pick = st.selectbox(
            "Entry",
            entries,
            format_func=lambda e: f"#{e.id} · {describe(e, names)}",
            key="audit_detail",
        )
        st.caption(f"Action code `{pick.action}` · target `{pick.target}` · hash `{pick.hash}`")
        before, after = st.columns(2)
        before.markdown("**Before**")
        before.json(pick.before or {})
        after.markdown("**After**")
        after.json(pick.after or {})
newer, older, export = st.columns([1, 1, 3])
if newer.button("← Newer", disabled=not cursors):
    cursors.pop()
    st.rerun()
if older.button("Older →", disabled=not more):
    cursors.append((entries[-1].at, entries[-1].id))
    st.rerun()


def _csv() -> str:
    # Built only when the button is clicked (on its own thread), never on every render.
    with Session() as session:
        return audit.export_csv(session, filt)


export.download_button(
    "Download CSV (all matching entries)",
    data=_csv,
    file_name="ledgerdesk-audit.csv",
    mime="text/csv",
    on_click="ignore",
)
