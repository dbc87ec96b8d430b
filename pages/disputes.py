"""Disputes: the deadline board, a case's evidence packet and actions, and the analytics."""

from __future__ import annotations

import time

import streamlit as st

from core.adapters.llm import client_from_settings
from core.adapters.metered import MeteredModel
from core.adapters.stripe_gateway import StripeGateway, make_client
from core.books.views import CHARGES, read_model
from core.disputes import actions as dispute_actions
from core.disputes.analytics import dispute_rate, outcomes, time_to_submission
from core.disputes.cases import board, config, get_case
from core.disputes.evidence.packet import build_packet
from core.disputes.evidence.pdf import render_pdf
from core.disputes.labels import reason_label, status_label
from core.errors import CoreError
from core.governance.audit_text import customer_names
from dashboard import dispute_widgets as w
from dashboard import request_widgets as rw
from dashboard.auth import require_user
from dashboard.context import get_policy, get_sessionmaker, get_settings
from dashboard.format import md_text, stripe_link
from dashboard.queue_widgets import export_buttons

actor = require_user()
settings = get_settings()
tz = settings.team_timezone
now = int(time.time())
try:
    cfg = config(settings.policy_file)
except CoreError as exc:
    st.error(f"The [disputes] section of the policy file is invalid: {exc}")
    st.stop()

st.title("Disputes")
w.flash()
board_tab, refund_tab, analytics_tab = st.tabs(
    ["Deadline board", "Refund before a dispute", "Analytics"]
)

with get_sessionmaker()() as session:
    rows = board(session, now, cfg)

with board_tab:
    st.caption(f"Deadlines in {tz}. The most urgent dispute that still needs an answer is on top.")
    w.board_table(rows, tz, now, mode=settings.stripe_mode)
    export_buttons("disputes", actor, get_sessionmaker(), settings.tz, "disputes")
    if rows:
        with get_sessionmaker()() as session:
            names = customer_names(session, [r.customer_id for r in rows if r.customer_id])
        by_id = {r.dispute_id: r for r in rows}
        dispute_id = st.selectbox(
            "Open a dispute",
            list(by_id),
            key="dispute_pick",
            format_func=lambda d: w.dispute_choice(by_id[d], names),
        )
        with get_sessionmaker()() as session:
            case = get_case(session, dispute_id)
            packet = build_packet(session, case, cfg, now)
        who = names.get(case.customer_id or "", "Unknown customer")
        st.header(md_text(f"{who} · {reason_label(case.reason)} · {status_label(case.status)}"))
        mode = settings.stripe_mode
        st.caption(
            f"Dispute {stripe_link(dispute_id, mode, case.account)} · customer "
            f"{stripe_link(case.customer_id, mode, case.account)} · charge "
            f"{stripe_link(case.charge_id, mode, case.account)} · owner "
            f"{md_text(case.owner or 'none')}"
        )
        rw.brief_panel("dispute", case.id, actor)
        w.case_summary(case, packet, tz, now)
        w.narrative_status(packet)
        w.packet_preview(packet)
        w.credit_panel(actor, case, get_policy())
        st.download_button(
            "Download PDF",
            lambda: render_pdf(packet),  # drawn on click, not on every render (0.2 s)
            file_name=f"{dispute_id}-evidence.pdf",
            mime="application/pdf",
        )
        if case.is_appeal and not case.answered:
            st.warning(
                "Appeal: the first decision can be appealed until the deadline above. Stripe takes "
                "the summary as the reason for filing and the packet PDF as the supporting file."
            )
        if case.answered:
            st.info("Evidence was submitted or the dispute is closed: nothing more to send.")
        elif not rw.may_request(actor):
            st.caption(
                "Staging evidence and requesting submission or acceptance are for operators and "
                "above; viewers read."
            )
        else:
            llm = client_from_settings(settings)
            if llm is not None:
                st.button(
                    "Rephrase narrative with AI (guarded)",
                    key="rephrase",
                    help="Only the argument's wording changes; facts and policy texts stay verbatim.",
                    on_click=lambda: w.run_service(
                        "Rephrasing",
                        lambda s: dispute_actions.rephrase_narrative(
                            s,
                            actor,
                            dispute_id,
                            MeteredModel(
                                llm,
                                s,
                                settings,
                                "narrative",
                                actor=actor.username,
                                ref=f"dispute:{dispute_id}",
                            ),
                            cfg,
                        ),
                        "Packet v{result.version} saved; the narrative line shows the guard's verdict.",
                    ),
                )
            c1, c2, c3 = st.columns(3)

            def _stage() -> None:
                gateway = StripeGateway(make_client(settings), case.account or None)
                w.run_service(
                    "Staging",
                    lambda s: dispute_actions.stage_evidence(s, actor, gateway, dispute_id, cfg),
                    "Staged packet v{result.version} on Stripe (not submitted).",
                )

            c1.button(
                "Save to Stripe as a draft",
                on_click=_stage,
                key="stage",
                help="Uploads the packet to the dispute on Stripe without submitting it; "
                "submitting needs an approval.",
            )
            c2.button(
                "Request submission",
                key="request_submit",
                on_click=lambda: w.run_service(
                    "Request",
                    lambda s: dispute_actions.request_submission(
                        s, actor, dispute_id, cfg, policy=get_policy()
                    ),
                    "Submission requested as action #{result.id}; an approver decides on the Approvals page.",
                ),
            )
            c3.button(
                "Request accept",
                disabled=case.is_appeal,  # not appealing leaves the decision as it is
                key="request_accept",
                on_click=lambda: w.run_service(
                    "Request",
                    lambda s: dispute_actions.request_accept(
                        s, actor, dispute_id, policy=get_policy()
                    ),
                    "Acceptance requested as action #{result.id} (irreversible once approved).",
                ),
            )


@st.cache_data(ttl=600, show_spinner="Computing dispute analytics…")
def _analytics_frames() -> tuple[object, object, object | None]:
    """Win rates, time to submission and the dispute rate, recomputed every ten minutes.

    The rate's charge counts come from the books job's read model (counting every charge takes
    seconds on a large account); None until that job has run once.
    """
    with get_sessionmaker()() as session:
        saved = read_model(session, CHARGES)
        rate = dispute_rate(session, saved[0]["months"]) if saved else None
        return outcomes(session), time_to_submission(session), rate


with refund_tab:
    w.refund_tab(actor, get_policy())

with analytics_tab:
    w.analytics(*_analytics_frames())
