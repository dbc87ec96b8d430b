"""The sign-in gate: nothing renders for a signed-out visitor.

Local accounts (username + password, argon2id) always work. When `[auth]` is configured in
`.streamlit/secrets.toml`, a "Sign in with single sign-on" button uses Streamlit's `st.login`
(OIDC); the verified email must belong to an active local user, whose role applies. Unknown
emails are refused (an admin adds them with `python -m jobs users add ... --email`).

A session ends after SESSION_IDLE_MINUTES without a click and SESSION_MAX_HOURS after sign-in,
whatever happens in between; the visitor then sees the sign-in form saying the session expired.
Only the visitor's own reruns count as activity (a page's self-refreshing fragments do not).
"""

from __future__ import annotations

import time

import streamlit as st

from core.errors import CoreError
from core.governance import audit, auth, sign_in
from core.governance.auth import Actor
from dashboard.context import get_sessionmaker, get_settings

SESSION_KEY = "ledgerdesk_actor"
STARTED_KEY = "ledgerdesk_signed_in_at"  # time.time() of the sign-in
SEEN_KEY = "ledgerdesk_last_seen_at"  # time.time() of the visitor's last rerun
NOTICE_KEY = "ledgerdesk_sign_in_notice"


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


def _source() -> str:
    """The browser's address as the server sees it (loopback and unknown count as local)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no browser connection (e.g. a page run on its own)
        address = None
    return address if isinstance(address, str) and address else sign_in.LOCAL_SOURCE


def _start_session(actor: Actor) -> None:
    st.session_state[SESSION_KEY] = actor
    st.session_state[STARTED_KEY] = st.session_state[SEEN_KEY] = time.time()


def _sign_in_password(username: str, password: str) -> None:
    try:
        actor = sign_in.authenticate(
            get_sessionmaker(), get_settings(), username, password, source=_source()
        )
    except CoreError as exc:
        st.session_state["ledgerdesk_sign_in_error"] = str(exc)
        return
    _start_session(actor)


def _expiry(now: float) -> str | None:
    """Why the signed-in session has expired at `now`, or None while it is still valid."""
    if st.session_state.get(SESSION_KEY) is None:
        return None
    settings = get_settings()
    started = st.session_state.setdefault(STARTED_KEY, now)
    seen = st.session_state.setdefault(SEEN_KEY, now)
    if now - started > settings.session_max_hours * 3600:
        return f"Your session expired {settings.session_max_hours:g} hours after you signed in"
    if now - seen > settings.session_idle_minutes * 60:
        return (
            f"Your session expired after {settings.session_idle_minutes:g} minutes without activity"
        )
    return None


def end_expired_session() -> None:
    """Sign out a session past its idle or absolute timeout; the sign-in form then says why."""
    why = _expiry(time.time())
    if why is not None:
        sign_out(reason=why)
        st.session_state[NOTICE_KEY] = why + "; sign in again."


def _sign_in_form() -> None:
    st.title("Sign in to Ledgerdesk")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.warning(notice)
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
        new = st.text_input(
            f"New password (at least {auth.MIN_PASSWORD_LENGTH} characters, hard to guess)",
            type="password",
            help="A few unrelated words work well; not your name, username or e-mail.",
        )
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
    end_expired_session()
    actor = st.session_state.get(SESSION_KEY)
    if actor is None and NOTICE_KEY not in st.session_state:
        email = _sso_email()
        if email:
            try:
                actor = sign_in.sign_in_by_email(
                    get_sessionmaker(), get_settings(), email, source=_source()
                )
                _start_session(actor)
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
    st.session_state[SEEN_KEY] = time.time()
    if must_change:
        _password_change_form(fresh)
        st.stop()
    return fresh


def sign_out(reason: str | None = None) -> None:
    """Forget the signed-in user (and leave single sign-on when it was used)."""
    actor = st.session_state.pop(SESSION_KEY, None)
    for key in (STARTED_KEY, SEEN_KEY):
        st.session_state.pop(key, None)
    if actor is not None:
        with get_sessionmaker().begin() as session:
            after = {"reason": reason} if reason else None
            audit.record(session, actor, "sign_out", f"user:{actor.username}", None, after)
    if _sso_email():
        st.logout()


def _watch_expiry() -> None:
    # Runs on its own timer: ends an expired session even when nobody clicks (an unattended
    # screen), without counting as activity itself.
    if _expiry(time.time()) is not None:
        st.rerun(scope="app")


def sidebar_user(actor: Actor) -> None:
    """Who is signed in, and the sign-out button."""
    with st.sidebar:
        st.caption(f"Signed in as **{actor.username}** ({actor.role})")
        if st.button("Sign out", key="ledgerdesk_sign_out"):
            sign_out()
            st.rerun()
        idle_seconds = get_settings().session_idle_minutes * 60
        st.fragment(run_every=max(1.0, min(60.0, idle_seconds / 4)))(_watch_expiry)()
