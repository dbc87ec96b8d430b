"""The request form every page uses to ask for an approved action: the amount (in major units),
the approvals it needs and the policy rule why, the reason, and what happened (a new request, or
the open one it joined). Viewers do not see it; core refuses them anyway.

Also the brief a case, a dispute or a request opens with (`brief_panel`)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from sqlalchemy.orm import Session

from core.adapters.llm import client_from_settings
from core.errors import CoreError
from core.governance.auth import Actor, has_role
from core.governance.requests import RequestOutcome, Terms
from core.money import ZERO_DECIMAL, to_minor
from core.reports.briefs import brief_in_steps
from dashboard.context import get_sessionmaker, get_settings
from dashboard.format import md_text

TermsFn = Callable[[Session, int | None], Terms]
SubmitFn = Callable[[Session, int | None, str], RequestOutcome]


def may_request(actor: Actor) -> bool:
    """Whether the signed-in person may ask for actions (operator and above)."""
    return has_role(actor, "operator")


def _terms(fn: TermsFn, amount: int | None) -> Terms:
    with get_sessionmaker()() as session:
        return fn(session, amount)


def _amount_input(key: str, base: Terms, mode: str) -> int | None:
    cur = (base.currency or "usd").lower()
    whole = cur in ZERO_DECIMAL
    hint = ""
    if mode == "optional" and base.limit is not None:
        hint = f" — empty: all that is left, {base.amount_text}"
    value = st.number_input(
        f"Amount in {cur.upper()}{hint}",
        min_value=0.0,
        value=None,
        step=1.0 if whole else 0.01,
        format="%.0f" if whole else "%.2f",
        key=f"{key}_amount",
    )
    return None if value is None else to_minor(value, cur)


def show_terms(t: Terms) -> None:
    """Amount, approvals needed and the rule; a note when the request would join an open one."""
    who = {0: "none", 1: "one"}.get(t.approvals_needed, str(t.approvals_needed))
    amount = f"**Amount:** {md_text(t.amount_text)} · " if t.amount is not None else ""
    st.markdown(f"{amount}**Approvals needed:** {who} · **Rule:** {md_text(t.rule)}")
    if t.open_request is not None:
        st.info(
            f"Request #{t.open_request} for this is already open: yours will join it, so the "
            "approvers decide once."
        )


def request_panel(
    key: str,
    actor: Actor,
    *,
    terms: TermsFn,
    submit: SubmitFn,
    amount: str = "none",
    button: str = "Request approval",
) -> None:
    """One request form. `amount`: "none", "optional" (empty = full) or "required"."""
    if not may_request(actor):
        return
    try:
        base = _terms(terms, None)
        minor = _amount_input(key, base, amount) if amount != "none" else None
        shown = _terms(terms, minor) if minor is not None else base
    except CoreError as exc:
        st.error(f"{exc}")
        return
    show_terms(shown)
    reason = st.text_input(
        "Reason (required; the approvers read it)",
        key=f"{key}_reason",
        placeholder="Why is this needed?",
    )
    if st.button(button, key=f"{key}_submit", type="primary"):
        if amount == "required" and minor is None:
            st.error("Type the amount first.")
            return
        try:
            with get_sessionmaker().begin() as session:
                outcome = submit(session, minor, reason)
        except CoreError as exc:
            st.error(f"{exc} Nothing was requested.")
            return
        st.success(outcome.message() + " Approvers decide on the Approvals page.")


def brief_panel(
    kind: str, subject_id: int, actor: Actor, *, title: str = "Brief", wait: bool = True
) -> None:
    """The brief for a recovery case, dispute or request: plain text, who wrote it beneath.

    Computed on first view and kept per inputs hash; the model writes it only for the roles
    AI_BRIEF_ROLES names, within the day's budget. `wait=False` (the second and later cards of
    a list) shows the template until the briefs job has written the model's brief.
    """
    settings = get_settings()
    try:
        shown = brief_in_steps(
            get_sessionmaker(),
            settings,
            kind,
            subject_id,
            llm=client_from_settings(settings),
            role=actor.role,
            actor=actor.username,
            wait=wait,
        )
    except CoreError as exc:
        st.caption(f"No brief: {md_text(exc)}")
        return
    st.markdown(f"**{md_text(title)}**")
    # Plain text: each line escaped on its own, kept as its own paragraph.
    st.info("\n\n".join(md_text(line) for line in shown.text.splitlines() if line.strip()))
    st.caption(md_text(shown.caption()))
