"""Process-wide resources for the dashboard: settings and the database, created once."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings, ensure_audit_key, load_settings
from core.db import ensure_data_dir, make_engine, make_sessionmaker, migrate, quick_check
from core.governance.policy import Policy, load_policy


@st.cache_resource(show_spinner=False)
def get_settings() -> Settings:
    """The validated settings (a ConfigError is shown by the entry point)."""
    settings = load_settings()
    ensure_data_dir(settings.data_dir)
    return ensure_audit_key(settings)


@st.cache_resource(show_spinner="Opening the database…")
def get_sessionmaker() -> sessionmaker[Session]:
    """One engine and session factory shared by every browser session (thread-safe)."""
    engine = make_engine(get_settings().database_url)
    quick_check(engine)  # a damaged file or an unreachable server: one line, on every page
    migrate(engine)
    return make_sessionmaker(engine, get_settings().audit_key)


def get_policy() -> Policy:
    """The approval policy of `Settings.policy_file` (POLICY_FILE), the same file the jobs use."""
    return load_policy(get_settings().policy_file)
