"""What every job needs: validated settings and a migrated store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings, ensure_audit_key, load_settings
from core.db import make_engine, make_sessionmaker, migrate
from core.governance.policy import load_policy


@dataclass
class Runtime:
    """Settings, engine and session factory for one job process."""

    settings: Settings
    engine: Engine
    Session: sessionmaker[Session]


def open_runtime(settings: Settings | None = None, *, run_migrations: bool = True) -> Runtime:
    """Load settings, open the database and bring its schema up to date."""
    settings = ensure_audit_key(settings or load_settings())
    load_policy(settings.policy_file)  # a bad policy stops every command with the line to fix
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    return Runtime(
        settings=settings,
        engine=engine,
        Session=make_sessionmaker(engine, settings.audit_key),
    )
