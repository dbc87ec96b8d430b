"""A page-test desk: the process environment AppTest pages read (DATABASE_URL, the data folder,
extra settings, the named settings removed), a migrated SQLite database, and Streamlit's caches
cleared on the way in and out; the environment is put back afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from sqlalchemy.engine import Engine

from core.db import make_engine, migrate


@contextmanager
def page_desk(
    folder: Path, db_name: str, cleared: Iterable[str], **env: str
) -> Iterator[tuple[str, Engine]]:
    """Yield (database URL, migrated engine) with the environment set for the pages."""
    url = f"sqlite:///{folder / db_name}"
    env = {"DATABASE_URL": url, "LEDGERDESK_DATA_DIR": str(folder), **env}
    cleared = tuple(cleared)
    saved = {k: os.environ.get(k) for k in (*env, *cleared)}
    os.environ.update(env)
    for name in cleared:
        os.environ.pop(name, None)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    migrate(engine)
    try:
        yield url, engine
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
        engine.dispose()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
