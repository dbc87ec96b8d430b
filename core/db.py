"""Engines, sessions, migrations and the dialect-aware upsert helpers.

SQLite is the embedded default: WAL journal, a busy timeout and foreign keys on, and every
transaction starts with BEGIN IMMEDIATE so a reader that later writes can never hit
"database is locked" halfway through (the dashboard and the scheduler share one file).
PostgreSQL is reached through psycopg 3 with the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config import Secret

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PAGE_SIZE = 32_768
AUDIT_KEY_INFO = "audit_key"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for `url` with Ledgerdesk's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Only takes effect on a new, empty file (before WAL is on); existing files keep theirs.
        # Events are ~3 KB of JSON each: 32 KB pages cut the WAL frames and syscalls per stored
        # event about eightfold against the 4 KB default (see bench/bench_sync.py).
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine, audit_key: Secret | None = None) -> sessionmaker[Session]:
    """A session factory; callers open `with Session.begin() as session:` per unit of work.

    `audit_key` (Settings.audit_key) travels in each session's `info`, so every audit entry
    written or verified through the session is signed with it (core/governance/audit.py).
    """
    info = {AUDIT_KEY_INFO: audit_key} if audit_key else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


def alembic_config(engine: Engine) -> Any:
    """An Alembic config bound to `engine`, with no alembic.ini needed."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (head by default)."""
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise ConfigError(
            f"Could not open the database to migrate it ({exc.orig}). Check DATABASE_URL and that "
            "the server is running and reachable."
        ) from None


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def insert_ignore(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Iterable[str],
) -> int:
    """Insert rows, skipping those whose conflict key exists; return how many were inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(list(rows))
    stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict_columns))
    # RETURNING counts the rows really inserted on both dialects (psycopg reports -1 as the
    # rowcount of a multi-row INSERT).
    stmt = stmt.returning(*table.primary_key.columns)
    return len(session.execute(stmt).all())


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
    update_columns: Sequence[str],
    where: Any = None,
) -> int:
    """Insert rows or update `update_columns` of existing ones (optionally only `where` holds)."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(list(rows))
    stmt = stmt.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={c: stmt.excluded[c] for c in update_columns},
        where=where(stmt.excluded) if callable(where) else where,
    )
    stmt = stmt.returning(*table.primary_key.columns)
    return len(session.execute(stmt).all())
