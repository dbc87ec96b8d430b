"""Ledgerdesk's Streamlit entry point: `streamlit run dashboard/app.py`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # Streamlit puts only this folder on sys.path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from core.errors import CoreError  # noqa: E402
from dashboard.context import get_settings  # noqa: E402
from dashboard.registry import PAGES, SECTIONS  # noqa: E402


def main() -> None:
    """Configure the page, check settings, and route to the chosen page."""
    st.set_page_config(
        page_title="Ledgerdesk", page_icon=":material/account_balance:", layout="wide"
    )
    try:
        settings = get_settings()
    except CoreError as exc:
        st.error(f"Ledgerdesk cannot start: {exc}")
        st.stop()
    groups: dict[str, list[st.Page]] = {}
    for spec in PAGES:
        page = st.Page(
            str(ROOT / spec.file), title=spec.title, icon=spec.icon, default=spec.default
        )
        groups.setdefault(spec.section, []).append(page)
    nav = st.navigation({s: groups[s] for s in SECTIONS if s in groups})
    with st.sidebar:
        st.caption(f"Stripe: **{settings.stripe_mode}** · database: **{settings.database_kind}**")
    nav.run()


main()
