"""Failed payments: the recovery queue by priority, one case in full, drafts, and analytics."""

from __future__ import annotations

import time

import streamlit as st

from core.adapters.llm import client_from_settings
from core.errors import CoreError
from core.recovery.assign import assign_cases
from core.recovery.context import recovery_settings
from core.recovery.drafts import draft_for_operator, edit_draft, request_send
from core.recovery.predunning import predunning_drafts, request_card_update
from core.recovery.queries import case_detail, filter_options, invoice_numbers, queue
from core.recovery.requests import case_terms, needs_of, request_for_case
from dashboard import recovery_widgets as w
from dashboard import request_widgets as rw
from dashboard.auth import require_user
from dashboard.context import get_policy, get_sessionmaker, get_settings
from dashboard.format import md_text
from dashboard.queue_widgets import export_buttons

actor = require_user()
settings = get_settings()
Session = get_sessionmaker()
now = int(time.time())
try:
    cfg, policy_version = recovery_settings(settings.policy_file)
except (CoreError, ValueError) as exc:
    st.error(
        f"The [recovery] section of the policy file is invalid: {exc}. Fix core/governance/policy.toml and reload."
    )
    st.stop()
llm = client_from_settings(settings)

st.title("Failed payments")
st.caption(
    f"Policy {policy_version} · AI personalisation {'on' if llm else 'off (no OPENAI_API_KEY)'}"
)
w.flash()
queue_tab, predunning_tab, analytics_tab = st.tabs(["Queue", "Cards expiring", "Analytics"])

with queue_tab:
    with Session() as session:
        options = filter_options(session)
    case_filter, page = w.filters(options)
    with Session() as session:
        qp = queue(session, case_filter, now=now, page=page, page_size=w.PAGE_SIZE)
    w.queue_table(qp, settings.tz)
    if qp.rows and rw.may_request(actor):
        with st.expander("Assign several cases to one person"):
            picked = st.multiselect(
                "Cases on this page",
                [r.id for r in qp.rows],
                format_func=lambda i: next(
                    f"#{r.id} · {r.customer} · {r.invoice_id}" for r in qp.rows if r.id == i
                ),
                key="rf_bulk_cases",
            )
            assignee = st.text_input(
                "Assign to (e-mail; leave empty to unassign)", key="rf_bulk_to"
            )
            if st.button("Assign selected cases", key="rf_bulk_assign", disabled=not picked):
                w.run_service(
                    f"{len(picked)} case(s) assigned to {assignee.strip() or 'nobody'}.",
                    assign_cases,
                    actor,
                    picked,
                    assignee,
                )
                st.rerun()
    export_buttons("failed_payments", actor, Session, settings.tz, "rf")
    if qp.rows:
        with Session() as session:
            numbers = invoice_numbers(session, [r.invoice_id for r in qp.rows])
        by_id = {r.id: r for r in qp.rows}
        case_id = st.selectbox(
            "Open a case",
            list(by_id),
            format_func=lambda i: w.case_choice(by_id[i], numbers),
            key="rf_case",
        )
        with Session() as session:
            detail = case_detail(session, case_id)
        rw.brief_panel("recovery_case", detail.case.id, actor)
        w.case_view(detail, settings.tz, settings.stripe_mode, numbers.get(detail.case.invoice_id))
        st.markdown("#### Draft")

        def on_save(draft_id: int, subject: str, body: str) -> None:
            w.run_service("Draft saved.", edit_draft, actor, draft_id, subject, body)

        def on_request(draft_id: int) -> None:
            w.run_service(
                "Requested — it now waits for an approver on the Approvals page.",
                request_send,
                actor,
                draft_id,
                cfg,
                policy=get_policy(),
            )

        def on_new(case_id: int, channel: str, use_ai: bool) -> None:
            w.run_service(
                "Draft ready (an identical one is reused, never generated twice).",
                draft_for_operator,
                actor,
                case_id,
                channel,
                cfg,
                llm if use_ai else None,
                settings,
            )

        if rw.may_request(actor):
            w.drafts_view(detail, on_save, on_request, on_new, ai_available=llm is not None)
        else:  # viewers read the drafts; editing and sending are for operators and above
            for dr in (x for x in detail.drafts if x.status in ("draft", "edited")):
                st.text(f"{dr.channel}: {dr.subject}\n\n{dr.body}")
            st.caption("Editing drafts and requesting to send them are for operators and above.")
        if rw.may_request(actor):
            st.markdown("#### Ask for an action")
            needs = {n.action_type: n for n in needs_of(detail.case)}
            need = needs[
                st.selectbox(
                    "What is needed",
                    list(needs),
                    format_func=lambda t: needs[t].label,
                    key=f"rf_need_{case_id}",
                )
            ]
            rw.request_panel(
                f"rf_{case_id}_{need.action_type}",
                actor,
                terms=lambda s, amount: case_terms(
                    s, case_id, need.action_type, amount=amount, policy=get_policy()
                ),
                submit=lambda s, amount, why: request_for_case(
                    s, actor, case_id, need.action_type, why, amount=amount, policy=get_policy()
                ),
                amount="required" if need.takes_amount else "none",
            )

with predunning_tab:
    st.caption(
        "Cards on active subscriptions expiring this month or next. Drafts are created by the "
        "`predunning` job; request approval to send the card-update e-mail."
    )
    with Session() as session:
        drafts = predunning_drafts(session)
    if not drafts:
        st.info(
            "No card-update drafts. Run `python -m jobs predunning` (the scheduler does it daily)."
        )
    for d in drafts:
        with st.expander(
            md_text(f"{d.subject} · {d.to_email or 'no e-mail'} · {d.subscription_id}")
        ):
            st.text(d.body)
            if st.button(
                "Request approval to send",
                key=f"pd_{d.id}",
                disabled=not rw.may_request(actor),
                help=None if rw.may_request(actor) else "Operators and above request sends.",
            ):
                w.run_service(
                    "Requested — see the Approvals page.",
                    request_card_update,
                    actor,
                    d.id,
                    policy=get_policy(),
                )
                st.rerun()

with analytics_tab:
    st.caption("Refreshed at most once a minute.")
    w.analytics(w.cached_summary(settings.database_url))
