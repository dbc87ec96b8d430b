"""`core.db.reading`: long reads (the daily digest's reports) never hold SQLite's write lock.

Every other SQLite transaction begins IMMEDIATE; a digest rendered inside one held the lock for
as long as its reports took (26 s under load), and the jobs writing meanwhile failed with
"database is locked". A reading session begins deferred on a WAL snapshot, refuses writes, and
leaves its pooled connection writable again; on PostgreSQL it is a READ ONLY transaction.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from core.db import reading
from core.models.base import utcnow
from core.models.sync import SyncRun


def _run(account: str) -> SyncRun:
    now = utcnow()
    return SyncRun(account=account, stream="events", started_at=now, finished_at=now, ok=True)


def test_a_reading_session_refuses_writes_and_leaves_its_connection_writable(Session: Any) -> None:
    with Session.begin() as s:
        s.add(_run("acct_1"))
    with reading(Session) as r:
        assert r.scalar(select(func.count()).select_from(SyncRun)) == 1
        r.add(_run("acct_2"))
        with pytest.raises(DBAPIError):
            r.flush()
    for _ in range(3):  # whichever pooled connection comes next takes writes again
        with Session.begin() as s:
            s.add(_run("acct_3"))
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 4


def test_writers_commit_while_a_long_read_is_open(Session: Any) -> None:
    with Session.begin() as s:
        s.add(_run("acct_1"))
    done: list[float] = []

    def write() -> None:
        started = time.monotonic()
        with Session.begin() as s:
            s.add(_run("acct_2"))
        done.append(time.monotonic() - started)

    with reading(Session) as r:
        assert r.scalar(select(func.count()).select_from(SyncRun)) == 1  # the snapshot is open
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout=5)
        assert done and done[0] < 5, "a writer waited for the reading session's lock"
        if r.get_bind().dialect.name == "sqlite":  # one snapshot from the first read on
            assert r.scalar(select(func.count()).select_from(SyncRun)) == 1
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 2
