"""Shared fixtures: databases (SQLite and a throwaway PostgreSQL), settings and the sandbox."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings, load_settings
from core.db import make_engine, make_sessionmaker, migrate
from tests.support.pg import ThrowawayPostgres, find_pg_bin
from tests.support.sandbox import SANDBOX_KEY, running_sandbox

_PG_REASON = "no PostgreSQL server binaries installed (apt-get install postgresql); CI has them"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayPostgres | None]:
    """One throwaway PostgreSQL server for the whole session, or None when not installed."""
    bin_dir = find_pg_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have PostgreSQL binaries: " + _PG_REASON)
        yield None
        return
    server = ThrowawayPostgres(bin_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL: SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledgerdesk.db'}"
    server = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip(_PG_REASON)
    return server.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database URL (for tests that are about SQLite or are dialect-neutral)."""
    return f"sqlite:///{tmp_path / 'ledgerdesk.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    """A migrated engine on each database kind."""
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def Session(engine: Any) -> Any:
    """A session factory on a freshly migrated database."""
    return make_sessionmaker(engine)


def settings_for(database_url: str, data_dir: Path | None = None, **env: str) -> Settings:
    """Settings for a test: only what is given, nothing from the developer's environment."""
    folder = data_dir or Path(tempfile.mkdtemp(prefix="ledgerdesk-data-"))
    base = {"DATABASE_URL": database_url, "LEDGERDESK_DATA_DIR": str(folder)}
    base.update(env)
    return load_settings(base, secrets_file=Path("/nonexistent"))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    """A running sandbox server, seeded and small, shared by one test module."""
    with running_sandbox() as server:
        yield server


@pytest.fixture
def sandbox_settings(sandbox: Any, sqlite_url: str) -> Settings:
    """Settings pointing at the module's sandbox and a fresh SQLite database."""
    return settings_for(
        sqlite_url, STRIPE_API_KEY=SANDBOX_KEY, STRIPE_API_BASE=sandbox.url, LEDGERDESK_SANDBOX="1"
    )
