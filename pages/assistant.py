"""Desk assistant: questions in plain English over the desk's own data; it may only propose."""

from __future__ import annotations

import streamlit as st

from core.adapters.ai_usage import allowance
from core.adapters.llm import client_from_settings
from core.reports.assistant.conversation import ask
from core.reports.assistant.history import recent_sessions
from dashboard import format as fmt
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.shell import link, spec_titled
from dashboard.widgets import show_flash, shows_errors

REPLY_KEY = "assistant_reply"
PAGE_OF = {
    "recovery_case": "Failed payments",
    "dispute": "Disputes",
    "ticket": "Disputes",
    "customer": "Failed payments",
    "action_request": "Approvals",
}
EXAMPLES = (
    "Which enterprise accounts failed twice this month?",
    "Disputes due this week over $500 with an open ticket",
    "Why is MRR at risk up since Monday?",
)

actor = require_user()
settings = get_settings()
Session = get_sessionmaker()
st.title("Desk assistant")
if actor.role not in settings.ai.assistant_roles:
    st.info(
        f"The desk assistant is off for your role ({actor.role}). An admin can switch it on with "
        "AI_ASSISTANT_ROLES; the rest of the desk works as usual."
    )
    st.stop()
client = client_from_settings(settings)
if client is None:
    st.info(
        "No model is configured, so the assistant is off; every other page works without it.  \n"
        "To switch it on, set **OPENAI_API_KEY** and restart the desk. **OPENAI_BASE_URL** points "
        "it at any OpenAI-compatible endpoint, including a local one (e.g. "
        "`http://127.0.0.1:11434/v1`), and **OPENAI_MODEL** names the model (default "
        "gpt-4o-mini). A daily budget caps it: AI_DAILY_TOKEN_BUDGET, AI_DAILY_COST_BUDGET_USD."
    )
    st.stop()

st.caption(
    "Ask about failed payments, disputes, tickets and MRR at risk. The assistant reads the desk's "
    "data through fixed queries and can only *propose* an action: a request that waits for "
    "approval like any other. Outside text (names, ticket subjects) is shown as typed."
)
with Session() as session:
    st.caption(allowance(session, settings).sentence())
show_flash()
with st.form("assistant_ask"):
    question = st.text_area("Question", placeholder=EXAMPLES[0], key="assistant_question")
    st.caption("For example: " + " · ".join(EXAMPLES))
    if st.form_submit_button("Ask", type="primary"):
        with shows_errors(), Session.begin() as session:
            reply = ask(session, settings, client, actor, question)
            st.session_state[REPLY_KEY] = {
                "answer": reply.answer,
                "stopped": reply.stopped,
                "cited": reply.cited,
                "unverified": reply.unverified,
                "proposals": reply.proposals,
                "rounds": reply.rounds,
                "tokens": reply.tokens,
            }
        st.rerun()

shown = st.session_state.get(REPLY_KEY)
if shown:
    st.subheader("Answer")
    if shown["stopped"]:
        st.warning(fmt.md_text(shown["answer"]))
    else:
        # the model's text, shown as text: nothing in it becomes a link, an image or a badge
        st.markdown(fmt.md_text(shown["answer"]))
    if shown.get("unverified"):
        st.warning(
            "The answer names ids no query returned; check them before relying on it: "
            + ", ".join(fmt.md_text(i) for i in shown["unverified"])
        )
    st.caption(
        f"{fmt.plural(shown['rounds'], 'model call')} · {fmt.number(shown['tokens'])} tokens"
    )
    for p in shown["proposals"]:
        money = f" of {p['amount_text']}" if p.get("amount_text") else ""
        st.success(
            f"Proposed as action #{p['action_id']}: {p['action_type'].replace('_', ' ')}{money} "
            f"on {fmt.md_text(p['target_id'])}; it waits for "
            f"{fmt.plural(p['approvals_needed'], 'approval')} ({fmt.md_text(p['policy_rule'])}). "
            "Nothing has been executed."
        )
    if shown["cited"]:
        st.markdown("**Records used**")
        st.dataframe(
            [
                {
                    "record": r["kind"].replace("_", " "),
                    "id": r["id"],
                    "Stripe": fmt.stripe_url(r.get("ref"), settings.stripe_mode) or "",
                    "open on": PAGE_OF.get(r["kind"], ""),
                }
                for r in shown["cited"]
            ],
            column_config={"Stripe": st.column_config.LinkColumn("Stripe", display_text="open")},
            hide_index=True,
            width="stretch",
        )
        cols = st.columns(3)
        for col, title in zip(
            cols, sorted({PAGE_OF[r["kind"]] for r in shown["cited"]}), strict=False
        ):
            with col:
                link(spec_titled(title), actor, f"Open {title}")

with Session() as session:
    history = recent_sessions(session, actor)
if history:
    with st.expander(f"Your recent questions ({len(history)})"):
        st.dataframe(
            [
                {
                    "asked": fmt.when(h["at"], settings.tz),
                    "question": h["question"],
                    "records": ", ".join(h.get("records") or []),
                    "proposed": ", ".join(f"#{p}" for p in h.get("proposals") or []),
                }
                for h in history
            ],
            hide_index=True,
            width="stretch",
        )
