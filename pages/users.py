"""Users & policy (admins): accounts and roles, and the approval policy in force."""

from __future__ import annotations

import streamlit as st

from core.adapters.ai_usage import allowance, usage_by_day
from core.governance import auth
from core.governance.auth import Role
from core.governance.policy import load_policy
from dashboard import format as fmt
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.widgets import flash, show_flash, shows_errors, when

actor = require_user()
settings = get_settings()
Session = get_sessionmaker()
st.title("Users & policy")
if actor.role != Role.ADMIN:  # the services check again; this only avoids an empty page
    st.error("Only admins manage users and policy. Ask an admin if you need a different role.")
    st.stop()

tab_users, tab_policy, tab_model = st.tabs(["Users", "Approval policy", "Model use"])
with tab_users:
    show_flash()
    with Session() as session:
        users = auth.list_users(session)
    st.dataframe(
        [
            {
                "user": u.username,
                "role": u.role,
                "email": u.email or "",
                "active": u.active,
                "last sign-in": when(u.last_sign_in_at, settings.tz),
            }
            for u in users
        ],
        hide_index=True,
        width="stretch",
    )
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add a user**")
        a, b, c = st.columns(3)
        name = a.text_input("Username")
        role = b.selectbox("Role", [r.value for r in Role])
        email = c.text_input("Email (for single sign-on, optional)")
        if st.form_submit_button("Add user"):
            with shows_errors(), Session.begin() as session:
                user, password = auth.create_user(
                    session, actor, name, role, email=email.strip() or None
                )
                flash(
                    "success",
                    f"Created {user.username}. One-time password (shown once): {password}",
                )
            st.rerun()
    st.markdown("**Change a user**")
    names = [u.username for u in users]
    a, b = st.columns(2)
    who = a.selectbox("User", names) if names else None
    new_role = b.selectbox("New role", [r.value for r in Role], key="new_role")
    c1, c2, c3, c4 = st.columns(4)
    if who and c1.button("Set role"):
        with shows_errors(), Session.begin() as session:
            auth.set_role(session, actor, who, new_role)
            flash("success", f"{who} is now {new_role}.")
        st.rerun()
    if who and c2.button("Disable"):
        with shows_errors(), Session.begin() as session:
            auth.set_active(session, actor, who, False)
            flash("success", f"{who} can no longer sign in.")
        st.rerun()
    if who and c3.button("Enable"):
        with shows_errors(), Session.begin() as session:
            auth.set_active(session, actor, who, True)
            flash("success", f"{who} can sign in again.")
        st.rerun()
    if who and c4.button("Reset password"):
        with shows_errors(), Session.begin() as session:
            password = auth.reset_password(session, actor, who)
            flash("success", f"New one-time password for {who} (shown once): {password}")
        st.rerun()

with tab_policy, shows_errors():
    policy = load_policy(settings.policy_file)
    st.markdown(
        f"Policy version **{policy.version}** from `{settings.policy_file.name}` "
        "(the version changes with any edit of the file; decisions store it)."
    )
    st.dataframe(
        [
            {
                "action": p.action_type,
                "approval": "yes" if p.approval else "no (internal)",
                "who approves": ", ".join(p.roles),
                "who requests": ", ".join(p.request_roles),
                "two approvers above": fmt.threshold_text(
                    p.two_approvers_above, p.two_approvers_above_by_currency
                )
                if p.approval
                else "—",
                "expires after (h)": p.expires_after_hours,
            }
            for p in policy.actions.values()
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(
        "Amounts in the action's currency (e.g. 500.00 = $500.00 or €500.00). "
        "A requester never approves their own request."
    )
    with st.expander("Policy file"):
        st.code(settings.policy_file.read_text(encoding="utf-8"), language="toml")

with tab_model:
    ai = settings.ai
    model = (
        f"Model **{fmt.md_text(settings.openai_model)}**"
        + (" at a custom endpoint (OPENAI_BASE_URL)" if settings.openai_base_url else "")
        if settings.openai_api_key
        else "No model configured (OPENAI_API_KEY unset): briefs use the templates and the desk "
        "assistant is off."
    )
    st.markdown(model)
    with Session() as session:
        today = allowance(session, settings)
        days = usage_by_day(session, settings)
    st.markdown(f"**Budget per day:** {ai.daily_tokens:,} tokens and ${ai.daily_cost_usd:,.2f} "
                "(AI_DAILY_TOKEN_BUDGET, AI_DAILY_COST_BUDGET_USD).")  # fmt: skip
    (st.warning if today.spent else st.caption)(
        today.sentence() + (" The budget is spent: no model call until tomorrow." if today.spent
                            else "")
    )  # fmt: skip
    st.markdown(
        "**Case briefs written by the model for:** "
        + (", ".join(ai.brief_roles) or "nobody")
        + " (AI_BRIEF_ROLES)  \n**Desk assistant for:** "
        + (", ".join(ai.assistant_roles) or "nobody")
        + " (AI_ASSISTANT_ROLES)"
    )
    st.markdown("**Per day (last 14 days)**")
    if days:
        st.dataframe(
            [
                {
                    "day": d["day"],
                    "for": d["purpose"],
                    "calls": d["calls"],
                    "tokens": d["tokens"],
                    "cost (USD)": d["cost_usd"],
                }
                for d in days
            ],
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("No model call in the last 14 days.")
