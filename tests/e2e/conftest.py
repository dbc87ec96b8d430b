"""End-to-end fixtures: a sandbox, a seeded database, the dashboard process, headless Chromium.

Reusable by other browser journeys: request `dashboard` (a running app pointed at the sandbox and
a fresh SQLite file, with `e2e_db` to seed it through core first) and `browser_page`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.db import make_engine, make_sessionmaker, migrate
from tests.support.browser import Dashboard, chromium, running_dashboard
from tests.support.sandbox import SANDBOX_KEY, running_sandbox


@pytest.fixture(scope="module")
def e2e_sandbox() -> Iterator[Any]:
    """A small running sandbox for one e2e module."""
    with running_sandbox(customers=30, days=45) as server:
        yield server


@pytest.fixture
def e2e_db(tmp_path: Path) -> dict[str, Any]:
    """A migrated SQLite database: {"url", "Session", "data_dir"}; seed it before `dashboard`."""
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    engine = make_engine(url)
    migrate(engine)
    return {"url": url, "Session": make_sessionmaker(engine), "data_dir": tmp_path}


@pytest.fixture
def dashboard_env(e2e_db: dict[str, Any], e2e_sandbox: Any) -> dict[str, str]:
    """The environment the dashboard runs with: the sandbox and the e2e database."""
    return {
        "DATABASE_URL": e2e_db["url"],
        "LEDGERDESK_DATA_DIR": str(e2e_db["data_dir"]),
        "STRIPE_API_KEY": SANDBOX_KEY,
        "STRIPE_API_BASE": e2e_sandbox.url,
        "LEDGERDESK_SANDBOX": "1",
    }


@pytest.fixture
def dashboard(dashboard_env: dict[str, str]) -> Iterator[Dashboard]:
    """The dashboard as a real `streamlit run` process (start it after seeding e2e_db)."""
    with running_dashboard(dashboard_env) as app:
        yield app


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    with chromium() as b:
        yield b


@pytest.fixture
def browser_page(browser: Any) -> Iterator[Any]:
    """A fresh browser page (its own cookies and session)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
