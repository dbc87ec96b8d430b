"""Approvals: the requests awaiting me, with their why; approve / reject; what happened after."""

from __future__ import annotations

import streamlit as st

from core.governance import actions, bulk
from core.governance import queries as action_queries
from core.governance.audit_text import customer_names
from core.governance.executor import run_now
from dashboard.auth import require_user
from dashboard.context import get_policy, get_sessionmaker, get_settings
from dashboard.format import approval_outcome, md_text
from dashboard.queue_widgets import export_buttons
from dashboard.request_widgets import brief_panel
from dashboard.widgets import (
    flash,
    is_money_move,
    outcome_rows,
    pager,
    render_why,
    show_flash,
    shows_errors,
    title_of,
    when,
)

actor = require_user()
settings = get_settings()
policy = get_policy()
Session = get_sessionmaker()
tz = settings.tz
PAGE_SIZE = 20  # each request renders its evidence table: page them instead of drawing hundreds


def decide(action_id: int, approve: bool, reason: str) -> None:
    """Record one decision through the core service (which checks role and four-eyes)."""
    with shows_errors(), Session.begin() as session:
        if approve:
            done = actions.approve(session, actor, action_id, reason, policy=get_policy())
            given = sum(
                a.decision == "approve" for a in action_queries.approvals_of(session, action_id)
            )
            flash(
                "success", approval_outcome(action_id, done.status, given, done.required_approvals)
            )
        else:
            actions.reject(session, actor, action_id, reason, policy=get_policy())
            flash("success", f"Action #{action_id} was rejected.")


def decide_many(action_ids: list[int], reason: str) -> None:
    """Approve several requests with one reason; each is its own approval, checked on its own."""
    with shows_errors(), Session.begin() as session:
        outcomes = bulk.approve_many(session, actor, action_ids, reason, policy=get_policy())
        problems = [
            f"#{o.action_id}: {o.note}" for o in outcomes if o.outcome in ("excluded", "refused")
        ]
        text = bulk.summary(outcomes) + (f" — {'; '.join(problems)}" if problems else "")
        flash("warning" if problems else "success", text)


def _drop_confirmation() -> None:
    st.session_state.pop("approvals_confirm", None)


@st.dialog("Confirm: this moves money", on_dismiss=_drop_confirmation)
def confirm(action_id: int, title: str, reason: str) -> None:
    """The confirmation step for refunds, credits and other money moves."""
    st.write(f"You are approving **{md_text(title)}**.")
    st.write(f"Your reason: “{md_text(reason)}”")
    st.warning("Once executed this cannot be undone from Ledgerdesk.")
    yes, no = st.columns(2)
    if yes.button("Confirm approval", type="primary", key=f"confirm-{action_id}"):
        _drop_confirmation()
        decide(action_id, True, reason)
        st.rerun()
    if no.button("Cancel", key=f"cancel-{action_id}"):
        _drop_confirmation()
        st.rerun()


st.title("Approvals")
show_flash()

with Session() as session:
    # Counted and paged in SQL: a large backlog must not be drawn (or loaded) all at once.
    n_awaiting = action_queries.count_awaiting(session, actor, policy)
    n_flight = action_queries.count_in_flight(session, actor, policy)
    recent = action_queries.recent_outcomes(session, limit=50)

tab_mine, tab_flight, tab_done = st.tabs(
    [
        f"Awaiting me ({n_awaiting})",
        f"In flight ({n_flight})",
        f"Recent outcomes ({len(recent)})",
    ]
)

with tab_mine:
    mine_offset = pager(n_awaiting, PAGE_SIZE, "approvals_mine_page", "requests")
with tab_flight:
    flight_offset = pager(n_flight, PAGE_SIZE, "approvals_flight_page", "actions")
with Session() as session:
    awaiting = action_queries.awaiting(
        session, actor, limit=PAGE_SIZE, offset=mine_offset, policy=policy
    )
    in_flight = action_queries.in_flight(
        session, actor, limit=PAGE_SIZE, offset=flight_offset, policy=policy
    )
    trail = action_queries.approvals_for(session, [a.id for a in awaiting + in_flight])
    # Customers' names for the headers: a request names who it is for, its id sits below.
    names = customer_names(session, [a.target_id for a in awaiting + in_flight + recent])
mode = settings.stripe_mode

with Session() as session:
    everything = action_queries.awaiting(session, actor, limit=bulk.MAX_BULK, policy=policy)
    session.expunge_all()
with tab_mine:
    # Bulk approval: requests of one type that one approver may decide (never two-approver ones).
    single = [a for a in everything if not bulk.needs_two(a, policy)]
    if len(single) > 1:
        with st.expander(f"Approve several at once ({len(single)} need one approval)"):
            kinds = sorted({a.action_type for a in single})
            kind = st.selectbox(
                "Type", kinds, format_func=lambda k: k.replace("_", " "), key="bulk_type"
            )
            of_kind = [a for a in single if a.action_type == kind]
            labels = {a.id: title_of(a) for a in of_kind}
            chosen = st.multiselect(
                f"Requests ({len(of_kind)})",
                list(labels),
                default=list(labels),
                format_func=lambda i: f"#{i} · {labels[i]}",
                key=f"bulk_ids_{kind}",
            )
            n_two = len(everything) - len(single)
            if n_two:
                st.caption(
                    f"{n_two} request(s) need two approvers and are left out: decide them one by one."
                )
            bulk_reason = st.text_input(
                "One reason, recorded on each approval (required)", key="bulk_reason"
            )
            money = is_money_move(of_kind[0]) if of_kind else False
            sure = not money or st.checkbox(
                "I confirm: these move money, and once executed cannot be undone here.",
                key="bulk_money_ok",
            )
            if st.button(
                f"Approve {len(chosen)} selected",
                type="primary",
                key="bulk_approve",
                disabled=not chosen or not sure,
            ):
                decide_many(chosen, bulk_reason)
                st.rerun()
    export_buttons("approvals", actor, Session, tz, "approvals")

with tab_mine:
    if not awaiting:
        st.info(
            "Nothing awaits your decision. Requests you made yourself are decided by someone else."
        )
    for n, action in enumerate(awaiting):
        with st.container(border=True):
            st.subheader(md_text(title_of(action, names)))
            # only the first card waits for the model; the briefs job writes the others ahead
            brief_panel("request", action.id, actor, wait=n == 0)
            render_why(action, trail[action.id], tz, mode)
            reason = st.text_input("Reason for your decision (required)", key=f"reason-{action.id}")
            left, right, _ = st.columns([1, 1, 4])
            if left.button("Approve", key=f"approve-{action.id}", type="primary"):
                if is_money_move(action) and reason.strip():
                    st.session_state["approvals_confirm"] = (
                        action.id,
                        title_of(action, names),
                        reason,
                    )
                else:
                    decide(action.id, True, reason)
                    st.rerun()
            if right.button("Reject", key=f"reject-{action.id}"):
                decide(action.id, False, reason)
                st.rerun()

pending = st.session_state.get("approvals_confirm")
if pending and any(a.id == pending[0] for a in awaiting):
    confirm(*pending)

with tab_flight:
    if not in_flight:
        st.info("No action is waiting for another approver or for the executor.")
    for action in in_flight:
        with st.container(border=True):
            st.markdown(f"**{md_text(title_of(action, names))}** — {md_text(action.status)}")
            render_why(action, trail[action.id], tz, mode)
            if action.last_error:
                st.error(f"Last attempt: {md_text(action.last_error)}")
            if action.status in ("approved", "executing"):
                st.caption(
                    f"Approved; the executor runs it within a minute (attempts: {action.attempts})."
                )
                if st.button("Run now", key=f"run-{action.id}"):
                    with shows_errors(), st.spinner("Calling Stripe…"):
                        status = run_now(Session, settings, actor, action.id)
                        flash(
                            "success" if status == "succeeded" else "info",
                            (
                                f"Action #{action.id}: {status}."
                                if status
                                else f"Action #{action.id} is already being executed; it is not due for another attempt yet."
                            ),
                        )
                    st.rerun()

with tab_done:
    if recent:
        st.dataframe(outcome_rows(recent, tz, names), hide_index=True, width="stretch")
        failed = [a for a in recent if a.status == "failed"]
        for action in failed[:10]:
            st.error(
                f"{md_text(title_of(action, names))} failed on {when(action.finished_at, tz)}: "
                f"{md_text(action.last_error)}"
            )
    else:
        st.info("No action has finished yet.")
