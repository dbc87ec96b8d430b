"""What every job needs: validated settings and a migrated store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings, ensure_audit_key, load_settings
from core.db import ensure_data_dir, make_engine, make_sessionmaker, migrate, quick_check
from core.governance.policy import load_policy


@dataclass
class Runtime:
    """Settings, engine and session factory for one job process."""

    settings: Settings
    engine: Engine
    Session: sessionmaker[Session]


def open_runtime(settings: Settings | None = None, *, run_migrations: bool = True) -> Runtime:
    """Load settings, open and check the database and bring its schema up to date.

    A damaged SQLite file (PRAGMA quick_check) or an unreachable server stops every command here
    with one line, before any job reads half of it.
    """
    settings = settings or load_settings()
    ensure_data_dir(settings.data_dir)
    settings = ensure_audit_key(settings)
    load_policy(settings.policy_file)  # a bad policy stops every command with the line to fix
    engine = make_engine(settings.database_url)
    quick_check(engine)
    if run_migrations:
        migrate(engine)
    return Runtime(
        settings=settings,
        engine=engine,
        Session=make_sessionmaker(engine, settings.audit_key),
    )
