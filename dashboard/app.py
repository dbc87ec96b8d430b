"""Ledgerdesk's Streamlit entry point: `streamlit run dashboard/app.py`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAVICON = ROOT / "dashboard" / "favicon.svg"
if str(ROOT) not in sys.path:  # Streamlit puts only this folder on sys.path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from core.errors import CoreError  # noqa: E402
from dashboard.auth import SESSION_KEY, end_expired_session, require_user  # noqa: E402
from dashboard.context import get_policy, get_sessionmaker, get_settings  # noqa: E402
from dashboard.loading import (  # noqa: E402
    connected_accounts,
    first_load_status,
    show_loading,
)
from dashboard.registry import PAGES, SECTIONS  # noqa: E402
from dashboard.shell import render_sidebar, spec_titled  # noqa: E402


def _signed_out() -> None:
    """The only page a signed-out visitor has; the sign-in form itself comes from the gate."""


def main() -> None:
    """Configure the page, check settings, and route to the chosen page."""
    # A local file: a ":material/...:" page icon makes the browser fetch it from fonts.gstatic.com.
    st.set_page_config(page_title="Ledgerdesk", page_icon=str(FAVICON), layout="wide")
    try:
        settings = get_settings()
        get_policy()  # a bad policy file stops the desk with the line to fix, on every page
        get_sessionmaker()  # so does a database that is damaged, read-only or unreachable
    except CoreError as exc:
        st.error(f"Ledgerdesk cannot start: {exc}")
        st.stop()
    end_expired_session()  # an idle or too old session is signed out before anything renders
    if st.session_state.get(SESSION_KEY) is None:
        # Signed out: replace whatever navigation the browser still shows with none at all.
        st.navigation([st.Page(_signed_out, title="Sign in", default=True)], position="hidden")
    actor = require_user()  # the sign-in gate: nothing below renders for a signed-out visitor
    groups: dict[str, list[st.Page]] = {}
    for spec in (p for p in PAGES if p.open_to(actor.role, settings)):
        page = st.Page(
            str(ROOT / spec.file), title=spec.title, icon=spec.icon, default=spec.default
        )
        groups.setdefault(spec.section, []).append(page)
    # expanded: every page stays listed; collapsed, the last section (Admin) hid behind "View more".
    nav = st.navigation({s: groups[s] for s in SECTIONS if s in groups}, expanded=True)
    render_sidebar(settings, actor)  # mode, account, database, time zone, user, sign-out
    connected = connected_accounts(settings)
    loading = first_load_status(settings.database_url, connected)
    if loading is not None:
        spec = spec_titled(nav.title)
        if spec is not None and spec.figures:
            # Figures from half an account would be wrong: say how far the load is instead.
            show_loading(loading, settings.database_url, connected)
            return
        st.info(loading.sentence(), icon=":material/hourglass_top:")
    nav.run()


main()
