"""Engines, sessions, migrations and the dialect-aware upsert helpers.

SQLite is the embedded default: WAL journal, a busy timeout and foreign keys on, and every
transaction starts with BEGIN IMMEDIATE so a reader that later writes can never hit
"database is locked" halfway through (the dashboard and the scheduler share one file).
PostgreSQL is reached through psycopg 3 with the same code.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from core.config import Secret

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PAGE_SIZE = 32_768
AUDIT_KEY_INFO = "audit_key"
STORAGE_LOG_NAME = "storage-errors.json"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for `url` with Ledgerdesk's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"Cannot create the database folder {folder} ({exc.strerror}): point "
                    "LEDGERDESK_DATA_DIR (or DATABASE_URL) at a folder this user can write."
                ) from None
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def ensure_data_dir(path: Path) -> None:
    """Create the data folder (LEDGERDESK_DATA_DIR) or say in one line why it cannot be used."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"LEDGERDESK_DATA_DIR={str(path)!r} cannot be created ({exc.strerror}): point it at a "
            "folder this user can write."
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(
            f"LEDGERDESK_DATA_DIR={str(path)!r} is not writable for this user: fix its "
            "permissions or point it at another folder."
        )


READ_ONLY = "ledgerdesk_read_only"  # the execution option of `reading` connections


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
        # A `reading` session's transaction is deferred: a WAL snapshot, never the write lock.
        read_only = conn.get_execution_options().get(READ_ONLY)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def reading(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only (long reports), rolled back when it ends.

    On SQLite every other transaction begins IMMEDIATE, taking the one write lock even to read;
    a report rendered for half a minute in such a transaction makes the jobs that write wait
    out their busy timeout and fail ("database is locked"). This one begins deferred instead:
    it reads one consistent snapshot of the WAL and never holds the write lock, and the
    connection is `query_only`, so a write through it fails at once instead of taking the lock.
    On PostgreSQL it is a READ ONLY transaction.
    """
    bind = session_factory.kw["bind"]
    with bind.execution_options(**{READ_ONLY: True}).connect() as conn:
        on_sqlite = conn.dialect.name == "sqlite"
        conn.exec_driver_sql("PRAGMA query_only = ON" if on_sqlite else "SET TRANSACTION READ ONLY")
        try:
            with session_factory(bind=conn) as session:
                yield session
        finally:
            conn.rollback()
            if on_sqlite:
                conn.exec_driver_sql("PRAGMA query_only = OFF")  # the pool reuses connections
                conn.rollback()


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
    except (DBAPIError, sqlite3.Error) as exc:
        storage = storage_error(exc, engine.url.render_as_string(hide_password=True))
        if storage is None:
            raise
        raise storage from None


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
    """Insert rows, skipping those whose conflict key exists; return how many were inserted.

    One statement per table and conflict key, built once and reused from the statement cache:
    the rows are its parameters (SQLAlchemy sends them as multi-row VALUES, several rows a
    round trip), not literals of a statement built anew for each call."""
    if not rows:
        return 0
    stmt = _insert_ignore_stmt(session.get_bind().dialect.name, table, tuple(conflict_columns))
    inserted = 0
    for params in _same_keys(rows):
        # RETURNING counts the rows really inserted on both dialects (psycopg reports -1 as the
        # rowcount of a multi-row INSERT).
        result = session.execute(stmt, params if len(params) > 1 else params[0])
        inserted += len(result.all())
    return inserted


_INSERT_IGNORE: dict[tuple[str, Table, tuple[str, ...]], Any] = {}


def _insert_ignore_stmt(dialect: str, table: Table, conflict: tuple[str, ...]) -> Any:
    key = (dialect, table, conflict)
    stmt = _INSERT_IGNORE.get(key)
    if stmt is None:
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = _INSERT_IGNORE[key] = (
            module.insert(table)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*table.primary_key.columns)
        )
    return stmt


def _same_keys(rows: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows in runs of the same columns (one executemany each), in their order."""
    runs: list[list[dict[str, Any]]] = []
    last: tuple[str, ...] | None = None
    for row in rows:
        keys = tuple(row)
        if keys != last:
            runs.append([])
            last = keys
        runs[-1].append(dict(row))
    return runs


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


# --- storage errors: what happened, in one line ------------------------------------------------

_SQLITE_CODES = {
    "SQLITE_FULL": "full",
    "SQLITE_READONLY": "read_only",
    "SQLITE_PERM": "read_only",
    "SQLITE_BUSY": "locked",
    "SQLITE_LOCKED": "locked",
    "SQLITE_CORRUPT": "corrupt",
    "SQLITE_NOTADB": "corrupt",
    "SQLITE_CANTOPEN": "cannot_open",
    "SQLITE_IOERR": "io",
}
_PG_STATES = {
    "53100": "full",
    "25006": "read_only",
    "55P03": "locked",
    "40P01": "locked",
    "XX001": "corrupt",
    "XX002": "corrupt",
    "28P01": "auth",
    "28000": "auth",
    "3D000": "missing",
    "08": "unreachable",  # the whole connection-exception class
    "57P": "unreachable",  # the server is shutting down or restarting
}
_PATTERNS = (
    ("full", ("database or disk is full", "no space left", "disk full", "could not extend file")),
    ("read_only", ("readonly database", "read-only", "read only")),
    ("locked", ("database is locked", "table is locked", "lock timeout", "could not obtain lock")),
    ("corrupt", ("malformed", "file is not a database", "corrupt")),
    ("cannot_open", ("unable to open database file",)),
    ("io", ("disk i/o error",)),
    ("auth", ("authentication failed",)),
    ("missing", ("does not exist",)),
    (
        "unreachable",
        (
            "connection refused",
            "could not connect",
            "connection failed",
            "could not translate host name",
            "name or service not known",
            "server closed the connection",
            "timeout expired",
            "no route to host",
        ),
    ),
)
_ADVICE = {
    "full": "The database has run out of space ({detail}): free disk space where {where} is kept "
    "(or raise the server's quota), then run the command again; the failed write was not stored.",
    "read_only": "The database is read-only ({detail}): make {where} and its folder writable for "
    "this user, or point DATABASE_URL at a writable database.",
    "locked": "The database is locked by another process ({detail}): wait for the running job to "
    "finish (or stop the stuck process), then try again.",
    "corrupt": "The database file is damaged ({detail}): stop every Ledgerdesk process and restore "
    "{where} from your last backup (sqlite3's .recover can salvage what is readable).",
    "cannot_open": "Cannot open the database {where} ({detail}): make sure its folder exists and "
    "is writable (LEDGERDESK_DATA_DIR or DATABASE_URL).",
    "io": "The disk under the database failed a read or write ({detail}): check the free space "
    "and the health of the disk holding {where}.",
    "unreachable": "Cannot reach the database server ({detail}): check that PostgreSQL is running "
    "and that the host and port in DATABASE_URL are right.",
    "auth": "The database server refused the login ({detail}): check the user and password in "
    "DATABASE_URL.",
    "missing": "The database in DATABASE_URL does not exist ({detail}): create it or fix the name.",
    "other": "The database failed ({detail}): check DATABASE_URL and the database server's log.",
}


def _kind_of(orig: BaseException) -> str | None:
    code = str(getattr(orig, "sqlite_errorname", "") or "")
    for prefix, kind in _SQLITE_CODES.items():
        if code.startswith(prefix):
            return kind
    state = str(getattr(orig, "sqlstate", "") or "")
    for prefix, kind in _PG_STATES.items():
        if state and state.startswith(prefix):
            return kind
    if not _operational(orig):
        return None  # a constraint, a data or an SQL mistake: a bug, not the storage
    text_ = str(orig).lower()
    for kind, needles in _PATTERNS:
        if any(n in text_ for n in needles):
            return kind
    return "other"


def _operational(orig: BaseException) -> bool:
    """sqlite3's / psycopg's OperationalError, or sqlite3's bare DatabaseError (a damaged file)."""
    names = {c.__name__ for c in type(orig).__mro__}
    return "OperationalError" in names or type(orig).__name__ == "DatabaseError"


def storage_error(exc: BaseException, where: str = "") -> StorageError | None:
    """The StorageError a driver failure means (disk full, read-only, locked, corrupt, server
    unreachable...), or None when `exc` is not a storage failure (a constraint or SQL mistake
    is a bug and must propagate)."""
    if isinstance(exc, StorageError):
        return exc
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if not isinstance(orig, sqlite3.Error) and not type(orig).__module__.startswith("psycopg"):
        return None
    kind = _kind_of(orig)
    if kind is None:
        return None
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
    where = _where(where) or "the database"
    return StorageError(kind, _ADVICE[kind].format(detail=detail, where=where))


def _where(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :] or ":memory:"
    return url


def quick_check(bind: Engine | Connection) -> None:
    """Raise StorageError when the database cannot be read or fails SQLite's quick_check.

    SQLite: `PRAGMA quick_check` reads every page (a corrupt page found now, not halfway through
    a job). PostgreSQL: one round trip, so an unreachable server is reported the same way.
    Given a Connection (a session's), the check runs on it: a second connection would wait for
    the session's own write lock.
    """
    where = bind.engine.url.render_as_string(hide_password=True)
    try:
        with bind.connect() if isinstance(bind, Engine) else nullcontext(bind) as conn:
            if bind.dialect.name != "sqlite":
                conn.execute(text("SELECT 1"))
                return
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check(5)")]
    except (DBAPIError, sqlite3.Error) as exc:
        storage = storage_error(exc, where)
        if storage is None:
            raise
        raise storage from None
    if rows != ["ok"]:
        lines = [ln for r in rows for ln in str(r).splitlines() if not ln.startswith("***")]
        detail = "; ".join(" ".join(ln.split()) for ln in lines)[:200]
        raise StorageError("corrupt", _ADVICE["corrupt"].format(detail=detail, where=_where(where)))


def record_storage_error(data_dir: Path, error: StorageError) -> None:
    """Count a storage failure in <data dir>/storage-errors.json for `status` and the health
    page. Kept beside, not inside, the database that just failed; best effort (a full disk may
    refuse this too)."""
    path = data_dir / STORAGE_LOG_NAME
    seen = storage_errors(data_dir)
    entry = {
        "errors": int(seen["errors"]) + 1,
        "last_kind": error.kind,
        "last_error": str(error),
        "last_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def storage_errors(data_dir: Path) -> dict[str, Any]:
    """{"errors": count, "last_kind", "last_error", "last_at"} of recorded storage failures."""
    try:
        data = json.loads((data_dir / STORAGE_LOG_NAME).read_text(encoding="utf-8"))
        return {
            "errors": int(data["errors"]),
            "last_kind": str(data.get("last_kind") or ""),
            "last_error": str(data.get("last_error") or ""),
            "last_at": str(data.get("last_at") or ""),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {"errors": 0, "last_kind": "", "last_error": "", "last_at": ""}
