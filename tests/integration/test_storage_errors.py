"""Storage failures of the real engines say what happened, and a full disk mid-sync is one line.

Every error here comes from the real driver: a SQLite file capped with `max_page_count` (the
engine's own "database or disk is full"), opened read-only, locked by a second connection or
overwritten with garbage, and a PostgreSQL port nobody listens on.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from core.db import make_engine, quick_check, storage_error
from core.errors import StorageError
from jobs.runtime import open_runtime
from jobs.scheduler import run_job
from jobs.sync import scheduled
from tests.conftest import settings_for
from tests.support.cli import run_jobs
from tests.support.sandbox import SANDBOX_KEY, running_sandbox


def _table(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    return conn


def _error(fn: Any) -> BaseException:
    with pytest.raises(sqlite3.Error) as caught:
        fn()
    return caught.value


def test_real_sqlite_failures_are_classified(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    conn = _table(db)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")
    full = _error(lambda: conn.execute("INSERT INTO t VALUES (zeroblob(100000))"))
    conn.close()

    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    read_only = _error(lambda: ro.execute("INSERT INTO t VALUES (1)"))
    ro.close()

    holder, waiter = _table(db), _table(db)
    holder.execute("BEGIN IMMEDIATE")
    locked = _error(lambda: waiter.execute("BEGIN IMMEDIATE"))
    holder.execute("ROLLBACK")

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\x00garbage" * 4096)
    corrupt = _error(lambda: sqlite3.connect(bad).execute("SELECT * FROM sqlite_master").all())

    where = f"sqlite:///{db}"
    kinds = {
        "full": full,
        "read_only": read_only,
        "locked": locked,
        "corrupt": corrupt,
    }
    for kind, exc in kinds.items():
        storage = storage_error(exc, where)
        assert storage is not None and storage.kind == kind, (kind, exc)
        assert str(db) in str(storage) or kind == "locked"
        assert "\n" not in str(storage)
    assert "has run out of space" in str(storage_error(full, where))
    # A constraint or SQL mistake is a bug, not the storage: it keeps its traceback.
    assert storage_error(sqlite3.IntegrityError("UNIQUE constraint failed: t.x")) is None
    assert storage_error(ValueError("database is locked")) is None


def test_an_unreachable_postgresql_server_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nobody listens there
    engine = make_engine(f"postgresql+psycopg://ld:secret-pw@127.0.0.1:{port}/ld")
    with pytest.raises(StorageError) as caught:
        quick_check(engine)
    assert caught.value.kind == "unreachable"
    assert "Cannot reach the database server" in str(caught.value)
    assert "secret-pw" not in str(caught.value)


@pytest.fixture(scope="module")
def busy_sandbox() -> Any:
    with running_sandbox(customers=60, days=30) as server:
        yield server


def test_a_full_disk_mid_sync_is_one_line_and_status_counts_it(
    busy_sandbox: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    died: list[str] = []  # threads that ended in an exception (each printed a traceback)
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.thread.name))
    url = f"sqlite:///{tmp_path / 'ld.db'}"
    rt = open_runtime(
        settings_for(
            url,
            tmp_path,
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=busy_sandbox.url,
            LEDGERDESK_SANDBOX="1",
            STRIPE_RATE_LIMIT="500",
        )
    )
    with rt.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(rt.engine, "connect")
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        # SQLite's own limit: past it every write fails with "database or disk is full".
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 30}")

    rt.engine.dispose()
    capfd.readouterr()
    assert run_job(rt, "sync", scheduled) is False  # the scheduler's lane: logs, never raises
    out, err = capfd.readouterr()
    assert "Traceback" not in err + out and "Exception in thread" not in err + out, err
    with pytest.raises(Exception) as caught:  # the CLI's path: one exception, classified as full
        scheduled(rt)
    storage = storage_error(caught.value, url)
    assert storage is not None and storage.kind == "full", caught.value
    out, err = capfd.readouterr()
    assert "Traceback" not in err + out and "Exception in thread" not in err + out, err
    assert died == []

    status = run_jobs(tmp_path, "status", database_url=url)
    line = next(ln for ln in status.stdout.splitlines() if ln.startswith("storage:"))
    assert line.startswith("storage: check ok; errors 1 — last at "), status.stdout
    assert "The database has run out of space (database or disk is full)" in line
