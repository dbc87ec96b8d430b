"""Widgets of the "Failed payments" page: filters, queue, case view, drafts and analytics."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from core.books import figures
from core.errors import CoreError
from core.money import to_major
from core.recovery.analytics import summary
from core.recovery.classification import BUCKET_LABELS, Bucket
from core.recovery.drafting import CHANNELS, describe_guard
from core.recovery.explain import next_step, why_bucket
from core.recovery.queries import STATUSES, CaseDetail, CaseFilter, QueuePage
from dashboard.context import get_sessionmaker
from dashboard.format import (
    amounts,
    duration,
    md_text,
    money,
    percent,
    segment,
    stripe_link,
    when,
)

PAGE_SIZE = 50
AGE_CHOICES = {
    "any age": (None, None),
    "today": (None, 1),
    "1–7 days": (1, 7),
    "over 7 days": (7, None),
}


def flash() -> None:
    """Show the result of the last click (kept across the rerun)."""
    kind, text = st.session_state.pop("recovery_flash", (None, None))
    if text:
        (st.success if kind == "ok" else st.error)(text)


def run_service(label: str, fn: Any, *args: Any, **kwargs: Any) -> None:
    """Call one core service in its own transaction; remember the outcome for the next run."""
    try:
        with get_sessionmaker().begin() as session:
            fn(session, *args, **kwargs)
        st.session_state["recovery_flash"] = ("ok", label)
    except CoreError as exc:
        st.session_state["recovery_flash"] = (
            "error",
            f"{exc} — nothing was changed; fix it and try again.",
        )


def filters(options: dict[str, list[str]]) -> tuple[CaseFilter, int]:
    """The filter row; returns the filter and the page number."""
    c1, c2, c3, c4, c5 = st.columns(5)
    statuses = c1.multiselect("Status", STATUSES, default=["open"], key="rf_status")
    buckets = c2.multiselect("Bucket", options["bucket"], format_func=label, key="rf_bucket")
    segments = c3.multiselect("Segment", options["segment"], format_func=segment, key="rf_segment")
    owners = c4.multiselect("Owner", options["owner"], key="rf_owner")
    age = c5.selectbox("Age", list(AGE_CHOICES), key="rf_age")
    escalated = st.toggle("Escalated only", key="rf_escalated")
    lo, hi = AGE_CHOICES[age]
    f = CaseFilter(
        tuple(statuses),
        tuple(buckets),
        tuple(segments),
        tuple(owners),
        lo,
        hi,
        escalated,
    )
    page = int(st.session_state.get("rf_page", 0))
    return f, page


def label(bucket: str) -> str:
    """A bucket's name in the team's words."""
    try:
        return BUCKET_LABELS[Bucket(bucket)]
    except ValueError:
        return bucket


def queue_table(qp: QueuePage, tz: Any) -> None:
    """The queue page as a table, plus paging."""
    if not qp.rows:
        st.info(
            "No failed payments match these filters. Failures appear here after the sync "
            "processes `invoice.payment_failed` events."
        )
        return
    df = pd.DataFrame(
        [
            {
                "Case": r.id,
                "Customer": r.customer,
                "Amount due": money(r.amount_remaining, r.currency),
                "Bucket": label(r.bucket)
                + (f" ({r.raw_code})" if r.bucket == "needs_review" and r.raw_code else ""),
                "Status": r.status.capitalize(),
                "Segment": segment(r.segment),
                "Owner": r.owner or "—",
                "Flags": " · ".join(
                    f for f, on in (("escalated", r.escalated), ("churn risk", r.high_risk)) if on
                ),
                "Attempts": r.attempt_count,
                "First failure": when(r.first_failed_at, tz),
                "Next step": next_step(r.recommended_action),
                "Priority": round(r.priority, 1),
            }
            for r in qp.rows
        ]
    )
    # narrow columns for short values, so the table fits a laptop screen without scrolling
    narrow = {"Case", "Status", "Attempts", "Priority", "Segment", "Flags"}
    config = {c: st.column_config.Column(width="small") for c in narrow}
    config["Customer"] = st.column_config.Column(width="medium")
    config["Next step"] = st.column_config.Column(width="medium")
    st.dataframe(df, hide_index=True, width="stretch", column_config=config)
    last = max(0, (qp.total - 1) // qp.page_size)
    c1, c2, c3 = st.columns([1, 2, 1])
    if c1.button("← Previous", disabled=qp.page == 0, key="rf_prev"):
        st.session_state["rf_page"] = qp.page - 1
        st.rerun()
    c2.caption(f"Page {qp.page + 1} of {last + 1} · {qp.total:,} cases")
    if c3.button("Next →", disabled=qp.page >= last, key="rf_next"):
        st.session_state["rf_page"] = qp.page + 1
        st.rerun()


ID_KINDS = {
    "in_": "invoice",
    "cus_": "customer",
    "sub_": "subscription",
    "pi_": "payment",
    "ch_": "charge",
}


def case_choice(row: Any, numbers: dict[str, str]) -> str:
    """How the case picker names a case: '#5 · Weber Logistics · invoice A9WN-0013 · $1,751.00'."""
    invoice = numbers.get(row.invoice_id) or row.invoice_id
    return (
        f"#{row.id} · {row.customer} · invoice {invoice} · "
        f"{money(row.amount_remaining, row.currency)}"
    )


def stripe_line(d: CaseDetail, mode: str, invoice_number: str | None) -> str:
    """Each Stripe object of the case named by its kind, with its id linked beside it."""
    parts = []
    for object_id in d.stripe_ids:
        kind = next((k for p, k in ID_KINDS.items() if object_id.startswith(p)), "object")
        if kind == "invoice" and invoice_number:
            kind = f"invoice {md_text(invoice_number)}"
        parts.append(f"{kind} {stripe_link(object_id, mode, d.case.account)}")
    return "**In Stripe:** " + " · ".join(parts)


def day_of(epoch: int, tz: Any) -> str:
    """An epoch time as a short day in the team's zone: 'Sat 05 Dec'."""
    return datetime.fromtimestamp(int(epoch), UTC).astimezone(tz).strftime("%a %d %b")


def case_view(d: CaseDetail, tz: Any, mode: str, invoice_number: str | None = None) -> None:
    """Header, timeline, context, rule hits and the recommended next step."""
    c = d.case
    invoice = f" · invoice {md_text(invoice_number)}" if invoice_number else ""
    st.subheader(
        f"{md_text(c.customer_name or c.customer_email or c.customer_id or 'Unknown customer')} · "
        f"{md_text(money(c.amount_remaining, c.currency))}{invoice} · {c.status.capitalize()}"
    )
    cols = st.columns(4)
    retry_on = when(c.next_payment_attempt, tz) if c.next_payment_attempt else None
    why = md_text(why_bucket(c.bucket, c.raw_code, retry_on))
    cols[0].metric("Bucket", label(c.bucket), help=why)
    cols[1].metric("Attempts", c.attempt_count)
    # Metric values are drawn large and cut with "…": short values, the detail below them.
    cols[2].metric(
        "Next retry",
        day_of(c.next_payment_attempt, tz) if c.next_payment_attempt else "None",
        help=f"Stripe's next automatic attempt: {retry_on}" if retry_on else None,
    )
    if retry_on:
        cols[2].caption(retry_on)
    cols[3].metric("Route", c.route.replace("_", " ").capitalize())
    if c.owner:
        cols[3].caption(md_text(c.owner))
    if c.status == "recovered":
        st.success(
            f"Recovered {money(c.recovered_amount, c.currency)} after {duration(c.seconds_to_recover)}."
        )
    st.markdown(f"**Why this bucket:** {why}")
    st.markdown(
        f"**Recommended next step:** {md_text(next_step(c.recommended_action))}"
        + (" · within the grace period: let Stripe's retries run" if c.in_grace_period else "")
    )
    if c.rule_hits:
        st.markdown("**Escalated because**")
        st.table(
            pd.DataFrame(
                [
                    {
                        "Rule": h["rule_id"],
                        "Why": md_text(h["reason"]),
                        "Route": h["route"],
                        "Policy version": h["policy_version"],
                    }
                    for h in c.rule_hits
                ]
            )
        )
    if c.high_risk:
        st.warning("High churn risk: " + ", ".join(s.replace("_", " ") for s in c.risk_signals))
    st.markdown(stripe_line(d, mode, invoice_number))
    left, right = st.columns(2)
    with left:
        st.markdown("**Timeline**")
        for t in d.timeline:
            st.markdown(f"- {when(t.occurred_at, tz)} — {md_text(t.summary)}")
    with right:
        st.markdown("**Context**")
        if d.account is None:
            st.caption("CRM account: missing — import a CRM export on the Imports page.")
        else:
            a = d.account
            st.markdown(
                f"{md_text(a.name or '—')} · owner {md_text(a.owner or '—')} · "
                f"segment {md_text(segment(a.segment))} · MRR {money(a.mrr, a.currency or c.currency)}"
                f" · renewal {a.renewal_date or '—'}"
                + (f" · flags: {md_text(', '.join(a.flags))}" if a.flags else "")
            )
        if not d.tickets:
            st.caption("Help-desk tickets: none found (or not imported).")
        for t in d.tickets:
            st.markdown(
                f"- 🎫 {t.created_at:%Y-%m-%d} · {md_text(t.status)} · {md_text(t.subject)}"
            )


def drafts_view(
    d: CaseDetail, on_save: Any, on_request: Any, on_new: Any, *, ai_available: bool
) -> None:
    """Open drafts: edit, then request approval to send; past drafts for reference."""
    open_drafts = [x for x in d.drafts if x.status in ("draft", "edited")]
    if not open_drafts:
        st.caption(
            "No open draft. "
            + (
                "The case is closed: nothing is sent after payment or cancellation."
                if d.case.status != "open"
                else "Retries are running."
            )
        )
    for dr in open_drafts:
        with st.form(f"draft_{dr.id}"):
            st.caption(
                f"{dr.channel} · {dr.template_id} {dr.template_version} · tone {dr.tone}"
                + (
                    f" · {dr.model}, {dr.prompt_tokens + dr.completion_tokens} tokens"
                    if dr.model
                    else ""
                )
            )
            fell_back, note = describe_guard(dr.guard, dr.model)
            # Plain text: the reason may quote the rejected rewrite (links, markup).
            st.text(("⚠ " if fell_back else "") + note)
            subject = st.text_input("Subject", dr.subject, key=f"subj_{dr.id}")
            body = st.text_area("Body", dr.body, height=260, key=f"body_{dr.id}")
            c1, c2 = st.columns(2)
            if c1.form_submit_button("Save edit"):
                on_save(dr.id, subject, body)
                st.rerun()
            verb = "Request approval to send" if dr.channel == "email" else "Create task"
            if c2.form_submit_button(verb, type="primary", disabled=dr.channel == "chat"):
                on_request(dr.id)
                st.rerun()
        if (
            ai_available
            and dr.model is None
            and st.button("Personalise with AI", key=f"ai_{dr.id}")
        ):
            on_new(dr.case_id, dr.channel, True)
            st.rerun()
    if d.case.status == "open":
        c1, c2 = st.columns([2, 1])
        channel = c1.selectbox("Draft for channel", CHANNELS, key=f"new_ch_{d.case.id}")
        if c2.button("Draft it", key=f"new_draft_{d.case.id}"):
            on_new(d.case.id, channel, False)
            st.rerun()
    past = [x for x in d.drafts if x.status not in ("draft", "edited")]
    if past:
        with st.expander(f"Earlier drafts ({len(past)})"):
            for dr in past:
                st.markdown(
                    f"- #{dr.id} attempt {dr.attempt} · {dr.channel} · **{dr.status}** · {md_text(dr.subject)}"
                )


@st.cache_data(ttl=60, show_spinner=False)
def cached_summary(database_url: str) -> dict[str, Any]:
    """Analytics for the whole store, recomputed at most once a minute (it scans every case),
    with the headline recovery rate and MRR at risk (core/books/figures.py)."""
    with get_sessionmaker()() as session:
        return {
            **summary(session),
            "recovery_rate": figures.recovery_rate(session),
            "mrr_at_risk": figures.mrr_at_risk(session),
        }


def analytics(summary: dict[str, Any]) -> None:
    """Metrics and plotly charts of recovery."""
    df = summary["frame"]
    if df.empty:
        st.info("No cases yet: analytics appear once failed payments have been processed.")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Recovery rate", percent(summary["recovery_rate"].rate))
    hours = summary["median_hours_to_recover"]
    c2.metric("Median time to recover", f"{hours} h" if hours is not None else "—")
    c3.metric(
        "MRR at risk",
        amounts(summary["mrr_at_risk"]),
    )
    words = {"bucket": label, "segment": segment, "template": str}
    for key, title in (
        ("by_bucket", "bucket"),
        ("by_segment", "segment"),
        ("by_template", "template"),
    ):
        # Plotly draws <a href> and other tags in axis labels: CRM segment names are shown as text.
        frame = major_units(summary[key]).assign(
            **{
                title: lambda f, t=title: (
                    f[t]
                    .astype(str)
                    .map(words[t])  # type: ignore[arg-type]
                    .map(html.escape)
                )
            }
        )
        st.plotly_chart(
            px.bar(
                frame,
                x=title,
                y="recovery_rate",
                color="currency",
                hover_data=["cases", "recovered", "recovered_amount"],
                labels={"recovered_amount": "recovered amount", "recovery_rate": "recovery rate"},
                title=f"Recovery rate by {title}",
            ),
            key=f"chart_{key}",
        )
    st.plotly_chart(
        px.line(
            major_units(summary["by_week"]),
            x="week",
            y="recovered_amount",
            color="currency",
            labels={"recovered_amount": "recovered amount (in each currency)"},
            title="Recovered amount by week",
        ),
        key="chart_week",
    )


def major_units(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame's `recovered_amount` (minor units) in major units of each row's currency."""
    if frame.empty or "recovered_amount" not in frame or "currency" not in frame:
        return frame
    return frame.assign(
        recovered_amount=[
            to_major(int(a or 0), str(c))
            for a, c in zip(frame["recovered_amount"], frame["currency"], strict=True)
        ]
    )
