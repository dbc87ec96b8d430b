"""The sidebar chrome every page shares: what the desk is connected to, who is signed in, when.

The mode badge is always visible so nobody mistakes live money for the sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.config import Settings, redact_url
from core.governance.auth import Actor
from dashboard.auth import sidebar_user
from dashboard.registry import PAGES, PageSpec

ROOT = Path(__file__).resolve().parent.parent
MODE_BADGE = {
    # The badge is one line that the sidebar cuts; the words after it wrap.
    "sandbox": ":violet-badge[:material/science: Sandbox] demo data, no real money",
    "test": ":orange-badge[:material/experiment: Stripe test mode]",
    "live": ":red-badge[:material/bolt: Stripe LIVE — real money]",
}


def endpoint_label(settings: Settings) -> str:
    """The Stripe API host without its scheme."""
    return settings.stripe_api_base.split("://", 1)[-1]


def accounts_label(settings: Settings) -> str:
    """The platform plus any connected accounts the sync covers."""
    if settings.connect_all:
        return "platform + every connected account"
    if not settings.stripe_accounts:
        return "platform account"
    return "platform + " + ", ".join(settings.stripe_accounts)


def sees_infrastructure(actor: Actor) -> bool:
    """Hosts, the database path or URL and the Stripe endpoint are shown to admins only."""
    return actor.role == "admin"


def render_sidebar(settings: Settings, actor: Actor) -> None:
    """Mode, account, time zone and the signed-in user at the top of the sidebar; for admins,
    also the Stripe endpoint and the database."""
    with st.sidebar:
        st.markdown(MODE_BADGE.get(settings.stripe_mode, settings.stripe_mode))
        if sees_infrastructure(actor):
            st.caption(
                f"Stripe **{endpoint_label(settings)}** · {accounts_label(settings)}  \n"
                f"Database **{settings.database_kind}**",
                help=redact_url(settings.database_url),
            )
        else:
            st.caption(accounts_label(settings).capitalize())
        local = datetime.now(UTC).astimezone(settings.tz)
        st.caption(f"Team time zone **{settings.team_timezone}** · now {local:%H:%M}")
    sidebar_user(actor)


def spec_for(file: str) -> PageSpec | None:
    """The registered page for a file (e.g. "pages/disputes.py"), if any."""
    return next((p for p in PAGES if p.file == file), None)


def spec_titled(title: str) -> PageSpec | None:
    """The registered page with this title, if any (pages still being built may be missing)."""
    return next((p for p in PAGES if p.title == title), None)


def link(spec: PageSpec | None, actor: Actor, label: str, icon: str | None = None) -> bool:
    """A link to a page the user may open; returns False (and draws nothing) otherwise."""
    if spec is None or actor.role not in spec.roles:
        return False
    try:
        st.page_link(str(ROOT / spec.file), label=label, icon=icon or spec.icon)
    except StreamlitAPIException:
        return False  # rendered outside the app's navigation (a page run on its own)
    return True
