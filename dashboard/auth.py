"""The sign-in gate: nothing renders for a signed-out visitor.

Local accounts (username + password, argon2id) always work. When `[auth]` is configured in
`.streamlit/secrets.toml`, a "Sign in with single sign-on" button uses Streamlit's `st.login`
(OIDC); the verified email must belong to an active local user, whose role applies. Unknown
emails are refused (an admin adds them with `python -m jobs users add ... --email`).
"""

from __future__ import annotations

import streamlit as st

from core.errors import CoreError
from core.governance import audit, auth
from core.governance.auth import Actor
from dashboard.context import get_sessionmaker

SESSION_KEY = "ledgerdesk_actor"


def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, AttributeError):
        return False
    except Exception:  # noqa: BLE001 - a malformed secrets file must not lock everyone out
        return False


def _sso_email() -> str | None:
    try:
        if getattr(st.user, "is_logged_in", False):
            email = st.user.get("email")
            return str(email) if email else None
    except Exception:  # noqa: BLE001 - st.user is unavailable outside a browser session
        return None
    return None


def _sign_in_password(username: str, password: str) -> None:
    try:
        with get_sessionmaker().begin() as session:
            st.session_state[SESSION_KEY] = auth.authenticate(session, username, password)
    except CoreError as exc:
        st.session_state["ledgerdesk_sign_in_error"] = str(exc)


def _sign_in_form() -> None:
    st.title("Sign in to Ledgerdesk")
    error = st.session_state.pop("ledgerdesk_sign_in_error", None)
    if error:
        st.error(error)
    with st.form("sign_in"):
        username = st.text_input("Username", key="sign_in_username")
        password = st.text_input("Password", type="password", key="sign_in_password")
        if st.form_submit_button("Sign in", type="primary"):
            _sign_in_password(username, password)
            st.rerun()
    if _sso_configured():
        st.divider()
        if st.button("Sign in with single sign-on"):
            try:
                st.login()
            except Exception as exc:  # noqa: BLE001 - e.g. Authlib missing or [auth] incomplete
                st.error(
                    f"Single sign-on is not working ({type(exc).__name__}). Check [auth] in "
                    ".streamlit/secrets.toml and that Authlib is installed (pip install Authlib); "
                    "local accounts still work."
                )
    st.caption("No account? Ask an admin: `python -m jobs users add <name> --role viewer`.")


def _password_change_form(actor: Actor) -> None:
    st.title("Choose a new password")
    st.info("You signed in with a one-time password. Choose your own to continue.")
    with st.form("change_password"):
        old = st.text_input("One-time password", type="password")
        new = st.text_input("New password (at least 12 characters)", type="password")
        again = st.text_input("New password again", type="password")
        if st.form_submit_button("Save password", type="primary"):
            if new != again:
                st.error("The two new passwords differ.")
                return
            try:
                with get_sessionmaker().begin() as session:
                    auth.change_password(session, actor, old, new)
            except CoreError as exc:
                st.error(str(exc))
                return
            st.rerun()


def require_user() -> Actor:
    """The signed-in Actor; otherwise show the sign-in form and stop the page."""
    actor = st.session_state.get(SESSION_KEY)
    if actor is None:
        email = _sso_email()
        if email:
            try:
                with get_sessionmaker().begin() as session:
                    actor = auth.sign_in_by_email(session, email)
                st.session_state[SESSION_KEY] = actor
            except CoreError as exc:
                st.error(str(exc))
                if st.button("Sign out of single sign-on"):
                    st.logout()
                st.stop()
    if actor is None:
        _sign_in_form()
        st.stop()
    # Re-read every run: a disabled user or a changed role takes effect at once.
    with get_sessionmaker()() as session:
        fresh = auth.current_actor(session, actor.user_id) if actor.user_id else None
        must_change = fresh is not None and auth.needs_password_change(session, fresh)
    if fresh is None:
        sign_out()
        st.warning("Your account was disabled or removed; sign in again.")
        st.stop()
    st.session_state[SESSION_KEY] = fresh
    if must_change:
        _password_change_form(fresh)
        st.stop()
    return fresh


def sign_out() -> None:
    """Forget the signed-in user (and leave single sign-on when it was used)."""
    actor = st.session_state.pop(SESSION_KEY, None)
    if actor is not None:
        with get_sessionmaker().begin() as session:
            audit.record(session, actor, "sign_out", f"user:{actor.username}", None, None)
    if _sso_email():
        st.logout()


def sidebar_user(actor: Actor) -> None:
    """Who is signed in, and the sign-out button."""
    with st.sidebar:
        st.caption(f"Signed in as **{actor.username}** ({actor.role})")
        if st.button("Sign out", key="ledgerdesk_sign_out"):
            sign_out()
            st.rerun()
