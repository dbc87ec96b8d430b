"""Widgets of the Disputes page: deadline board, case detail, actions and analytics charts."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.adapters.stripe_links import dashboard_url
from core.disputes import requests as dispute_requests
from core.disputes.analytics import MONITORING_THRESHOLDS
from core.disputes.cases import BoardRow
from core.disputes.deadlines import (
    URGENCY_COLOURS,
    Urgency,
    countdown_text,
    deadline_text,
    local_deadline,
)
from core.disputes.evidence.checklist import TEXT_LIMIT
from core.disputes.evidence.narrative import describe
from core.disputes.evidence.packet import Packet
from core.disputes.labels import reason_label, status_label
from core.errors import CoreError
from core.governance.auth import Actor
from core.governance.policy import Policy
from core.governance.requests import terms as request_terms
from core.models.disputes import DisputeCase
from core.money import format_money
from dashboard import request_widgets as rw
from dashboard.context import get_sessionmaker
from dashboard.format import md_text

# Words only: the colour is the row's left border (emoji are missing from some systems' fonts).
URGENCY_LABEL = {
    Urgency.past_due: "Past due",
    Urgency.critical: "Under 24 h",
    Urgency.urgent: "Under 72 h",
    Urgency.soon: "Under 7 days",
    Urgency.normal: "Later",
    Urgency.answered: "Answered",
    Urgency.no_response: "No response possible",
}


BOARD_LIMIT = 300  # rows the board draws; the rest are older or answered


def dispute_choice(row: BoardRow, names: dict[str, str]) -> str:
    """How the dispute picker names a dispute: customer — amount — reason (dp_…)."""
    who = names.get(row.customer_id or "", "Unknown customer")
    money = format_money(row.amount, row.currency)
    return f"{who} — {money} — {reason_label(row.reason)} ({row.dispute_id})"


def board_table(rows: list[BoardRow], tz: str, now: int, mode: str = "sandbox") -> None:
    """The deadline board, most urgent unanswered dispute first, coloured by urgency."""
    if not rows:
        st.info("No disputes yet. They appear here after the next sync (`python -m jobs sync`).")
        return
    if len(rows) > BOARD_LIMIT:
        st.caption(
            f"The {BOARD_LIMIT} most urgent of {len(rows):,} disputes; export all from Reports."
        )
        rows = rows[:BOARD_LIMIT]
    df = pd.DataFrame(
        {
            "Urgency": [URGENCY_LABEL[r.urgency] for r in rows],
            "Countdown": [r.countdown for r in rows],
            "Due (team time)": [deadline_text(r.due_by, now, tz) for r in rows],
            "Amount": [format_money(r.amount, r.currency) for r in rows],
            "Reason": [reason_label(r.reason) for r in rows],
            "Status": [status_label(r.status) for r in rows],
            "Owner": [r.owner or "— unowned" for r in rows],
            "Evidence": [r.completeness for r in rows],
            "Priority": [r.priority for r in rows],
            "Advice": [r.recommendation or "" for r in rows],
            "Dispute": [r.dispute_id for r in rows],
        }
    )
    links = [dashboard_url(r.dispute_id, mode=mode) for r in rows]
    if any(links):
        df["In Stripe"] = links
    colours = [URGENCY_COLOURS[r.urgency] for r in rows]

    def paint(row: pd.Series) -> list[str]:
        return [
            f"border-left: 6px solid {colours[row.name]}" if c == "Urgency" else ""
            for c in row.index
        ]

    st.dataframe(
        df.style.apply(paint, axis=1),
        hide_index=True,
        width="stretch",
        column_config={
            "Evidence": st.column_config.ProgressColumn("Evidence", min_value=0.0, max_value=1.0),
            "In Stripe": st.column_config.LinkColumn("In Stripe", display_text="open ↗"),
        },
    )


def due_parts(due_by: int | None, now: int, tz: str) -> tuple[str, str]:
    """A deadline split to fit a metric: the day ('today', 'Sun 06 Dec') and the clock time
    with its zone ('01:59 CET'); ('none', '') when no response is possible."""
    if not due_by:
        return "none", ""
    text = deadline_text(due_by, now, tz)
    when = local_deadline(due_by, tz)
    clock = when.strftime("%H:%M %Z")
    if text.endswith(clock) and text.split(" ")[0] in ("today", "tomorrow", "yesterday"):
        return text.split(" ")[0].capitalize(), clock
    return when.strftime("%a %d %b"), clock


def words(code: object) -> str:
    """A Stripe code as words: 'made_with_stolen_card' → 'Made with stolen card'."""
    text = str(code or "—").replace("_", " ")
    return text[:1].upper() + text[1:]


def case_summary(case: DisputeCase, packet: Packet, tz: str, now: int) -> None:
    """Headline figures, the fight-or-accept advice and the checklist."""
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Disputed", format_money(case.amount, case.currency))
    day, clock = due_parts(case.due_by, now, tz)
    c2.metric("Due", day, help=f"Evidence due {deadline_text(case.due_by, now, tz)}")
    if clock:
        c2.caption(f"{clock} · {countdown_text(case.due_by, now)}")
    c3.metric("Win chance", f"{case.win_chance:.0%}")
    c4.metric("Fight value", format_money(case.expected_value, case.currency))
    advice = (case.recommendation or "").upper()
    box = st.success if case.recommendation == "fight" else st.warning
    box(
        f"Recommendation: **{advice}** — "
        + md_text(" · ".join(case.recommendation_explanation[-2:]))
    )
    with st.expander(f"Priority {case.priority}/100 — why"):
        for line in case.priority_explanation + case.recommendation_explanation:
            st.write("• " + md_text(line))
    st.subheader("Checklist")
    for item, ok in packet.checklist.items:
        mark = "✅" if ok else ("❌" if item.required else "➖")
        st.write(f"{mark} {item.label}" + ("" if ok or not item.required else " — **missing**"))
    st.caption(f"{packet.text_chars:,} of {TEXT_LIMIT:,} characters of text")
    if packet.cuts:
        st.warning(
            "Cut to fit Stripe's limits (the PDF keeps the full text):\n\n"
            + "\n".join(f"- {md_text(cut.describe())}" for cut in packet.cuts)
        )


def narrative_status(packet: Packet) -> None:
    """Whether the narrative is the approved template or an AI rephrasing that passed the guard."""
    meta = packet.narrative
    line = describe(meta)
    if meta.get("source") == "ai":
        st.info(md_text(line))
    elif str(meta.get("guard") or "template") != "template":
        st.warning(md_text(line))
    else:
        st.caption(md_text(line))


def packet_preview(packet: Packet) -> None:
    """The evidence fields as they would be sent."""
    with st.expander("Packet preview", expanded=False):
        for field, value in packet.evidence.items():
            st.markdown(f"**{field}**")
            st.text(value if len(value) < 4000 else value[:4000] + "\n…")


def run_service(label: str, fn: Callable[[Any], Any], success: str) -> None:
    """Run one core service in its own transaction; show the outcome (never a traceback)."""
    try:
        with get_sessionmaker().begin() as session:
            result = fn(session)
    except CoreError as exc:
        st.session_state["dispute_flash"] = ("error", f"{label} failed: {exc}")
        return
    st.session_state["dispute_flash"] = ("success", success.format(result=result))


def flash() -> None:
    """Show the last button's outcome once."""
    kind, text = st.session_state.pop("dispute_flash", (None, None))
    if kind == "error":
        st.error(md_text(text) + " Check the dispute's status in Stripe, then try again.")
    elif kind == "success":
        st.success(text)


def analytics(outcomes: pd.DataFrame, tts: pd.DataFrame, rate: pd.DataFrame | None) -> None:
    """Win rate and amounts by reason and month, time to submission, dispute rate vs thresholds
    (`rate` None: the books job has not counted the charges yet)."""
    if outcomes.empty:
        st.info("No decided disputes yet: win rates appear once disputes are won or lost.")
    else:
        fig = go.Figure()
        # amounts are in each currency's major unit (¥5,000 is 5,000, $50.00 is 50)
        for (reason, currency), grp in outcomes.groupby(["reason", "currency"]):
            name = f"{html.escape(reason_label(str(reason)))} · {str(currency).upper()}"
            fig.add_bar(x=grp["month"], y=grp["amount_won"], name=f"won · {name}")
            fig.add_bar(x=grp["month"], y=-grp["amount_lost"], name=f"lost · {name}")
        fig.update_layout(
            barmode="relative",
            title="Amounts won (up) and lost (down) by reason and currency",
            yaxis_title="amount in the dispute's currency",
        )
        st.plotly_chart(fig, width="stretch")
        by_reason = (
            outcomes.assign(reason=outcomes["reason"].map(lambda r: reason_label(str(r))))
            .groupby("reason")[["won", "lost"]]
            .sum()
        )
        by_reason["win rate"] = by_reason["won"] / (by_reason["won"] + by_reason["lost"])
        st.dataframe(by_reason.style.format({"win rate": "{:.0%}"}), width="stretch")
    if not tts.empty:
        fig = go.Figure(
            go.Box(
                x=tts["reason"].map(lambda r: html.escape(reason_label(str(r)))),
                y=tts["hours"],
                name="hours",
            )
        )
        fig.update_layout(title="Time from dispute to evidence submission (hours)")
        st.plotly_chart(fig, width="stretch")
    if rate is None:
        st.info(
            "The dispute rate appears once the hourly `books` job has counted the charges: run "
            "`python -m jobs books`, or use **Refresh payouts, journal and drift** on Payouts & "
            "books."
        )
    elif not rate.empty:
        fig = go.Figure(
            go.Scatter(x=rate["month"], y=rate["share"], mode="lines+markers", name="dispute rate")
        )
        for label, value in MONITORING_THRESHOLDS.items():
            fig.add_hline(y=value, line_dash="dash", annotation_text=label)
        fig.update_layout(title="Disputes as a share of charges", yaxis_tickformat=".1%")
        st.plotly_chart(fig, width="stretch")


def credit_panel(actor: Actor, case: DisputeCase, policy: Policy) -> None:
    """A goodwill credit to the dispute's customer, through the approval path."""
    if not rw.may_request(actor) or not case.customer_id:
        return
    with st.expander("Credit the customer (goodwill)"):
        rw.request_panel(
            f"dispute_credit_{case.dispute_id}",
            actor,
            terms=lambda s, amount: dispute_requests.credit_terms(
                s, case.dispute_id, amount, policy=policy
            ),
            submit=lambda s, amount, why: dispute_requests.request_credit(
                s, actor, case.dispute_id, why, amount=amount or 0, policy=policy
            ),
            amount="required",
            button="Request the credit",
        )


def refund_tab(actor: Actor, policy: Policy) -> None:
    """Refund a charge before it becomes a dispute: early fraud warnings, or any charge id."""
    st.caption(
        "A refund before the dispute avoids the dispute fee. Early fraud warnings whose charge "
        "can still be refunded are listed; or type any charge id."
    )
    with get_sessionmaker()() as session:
        warnings = dispute_requests.refundable_warnings(session)
    if warnings:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Warning": w.warning_id,
                        "Charge": w.charge_id,
                        "Fraud type": words(w.fraud_type),
                        "Refundable": format_money(w.refundable, w.currency),
                    }
                    for w in warnings
                ]
            ),
            hide_index=True,
        )
    if not rw.may_request(actor):
        st.caption("Operators and above request refunds.")
        return
    picked = st.selectbox(
        "Charge with an early fraud warning",
        [""] + [w.charge_id for w in warnings],
        key="refund_pick",
    )
    charge_id = (st.text_input("or a charge id", key="refund_charge") or picked or "").strip()
    if not charge_id:
        return
    rw.request_panel(
        f"refund_{charge_id}",
        actor,
        terms=lambda s, amount: request_terms(s, "refund", charge_id, amount=amount, policy=policy),
        submit=lambda s, amount, why: dispute_requests.request_refund(
            s, actor, charge_id, why, amount=amount, policy=policy
        ),
        amount="optional",
        button="Request the refund",
    )
