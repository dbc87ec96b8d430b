"""SQLite fast path of ingestion: pre-encoded rows go to the driver as multi-row statements.

SQLAlchemy's per-row parameter handling (and its JSON type, which would encode the payload a
second time) costs more than SQLite's own insert on this path, so on SQLite the events and
snapshots are written with plain `INSERT ... ON CONFLICT` statements on the DBAPI connection of
the caller's session: the same transaction (BEGIN IMMEDIATE), the same semantics as the Core
statements used on PostgreSQL (unique event id, DO NOTHING; snapshot upsert guarded by
`source_created`).

Rows go `VALUES (...), (...), ...` many at a time rather than through `executemany`: the driver
gives up Python's GIL for each step of a statement, so `executemany` takes it back once a row —
and in a process where other threads parse pages (the backfill's workers) each take-back waits
for them, which made a row cost three times SQLite's own work. One statement of 256 rows is one
step; the chunk sizes are powers of two, so a handful of prepared statements (the driver's
cache) serve every batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import chain
from typing import Any

from sqlalchemy.orm import Session

from core.models.base import UTCDateTime

EVENT_COLUMNS = (
    "event_id",
    "account",
    "type",
    "created",
    "api_version",
    "livemode",
    "object_id",
    "payload",
    "source",
    "received_at",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
)
SNAPSHOT_COLUMNS = (
    "id",
    "account",
    "object_type",
    "source_created",
    "source_event_id",
    "data",
    "updated_at",
)
# What a newer state of an object replaces (everything but its id), for every snapshot writer.
SNAPSHOT_UPDATE_COLUMNS = SNAPSHOT_COLUMNS[1:]
_EVENTS_HEAD = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES "
_EVENTS_TAIL = " ON CONFLICT (event_id) DO NOTHING"
_SNAPSHOTS_HEAD = f"INSERT INTO stripe_objects ({', '.join(SNAPSHOT_COLUMNS)}) VALUES "
_SNAPSHOTS_TAIL = (
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SNAPSHOT_UPDATE_COLUMNS)
    # A concurrent writer (webhook and poll) may have stored a newer state meanwhile.
    + " WHERE excluded.source_created >= stripe_objects.source_created"
)
MAX_ROWS = 256  # rows per statement (x 14 columns well under SQLite's 32,766 parameters)
_CHUNK = 500
_UTC = UTCDateTime()


CACHE_KIB = 65_536


def driver_connection(session: Session) -> sqlite3.Connection:
    """The sqlite3 connection under `session`, inside its (already begun) transaction."""
    return session.connection().connection.driver_connection  # type: ignore[return-value]


def prepare_connection(session: Session) -> None:
    """Give the ingesting connection a page cache that holds a batch and the hot index pages."""
    # Per connection, allocated only as pages are read; the default 2 MB makes every batch
    # spill and re-read the unique event_id index from disk.
    driver_connection(session).execute(f"PRAGMA cache_size=-{CACHE_KIB}")


def _timestamps(session: Session, values: Iterable[Any]) -> dict[Any, Any]:
    """Each distinct datetime of a batch in the form SQLAlchemy stores it (one call per value)."""
    convert = _UTC._cached_bind_processor(session.get_bind().dialect)
    return {v: (convert(v) if convert and v is not None else v) for v in set(values)}


@cache
def _statement(head: str, tail: str, columns: int, rows: int) -> str:
    one = "(" + ", ".join("?" * columns) + ")"
    return head + ", ".join([one] * rows) + tail


def _chunk_sizes(n: int) -> Iterable[int]:
    """`n` rows as full chunks of MAX_ROWS, then the rest in powers of two (few statements)."""
    full, rest = divmod(n, MAX_ROWS)
    yield from [MAX_ROWS] * full
    size = MAX_ROWS // 2
    while rest:
        if rest >= size:
            yield size
            rest -= size
        size //= 2


def execute_rows(
    conn: sqlite3.Connection, head: str, tail: str, columns: int, rows: Sequence[tuple[Any, ...]]
) -> int:
    """`head VALUES (...), (...) tail` over `rows`, a few hundred rows a statement; return the
    rows changed."""
    before = conn.total_changes
    at = 0
    for size in _chunk_sizes(len(rows)):
        params = list(chain.from_iterable(rows[at : at + size]))
        conn.execute(_statement(head, tail, columns, size), params)
        at += size
    return conn.total_changes - before


def existing_event_ids(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    """Which of `ids` are stored already."""
    found: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        sql = f"SELECT event_id FROM events WHERE event_id IN ({', '.join('?' * len(chunk))})"
        found.update(r[0] for r in conn.execute(sql, chunk))
    return found


def stored_snapshots(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, tuple[int, Any]]:
    """`id → (source_created, source_event_id)` of the stored snapshots among `ids`."""
    found: dict[str, tuple[int, Any]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        sql = (
            "SELECT id, source_created, source_event_id FROM stripe_objects "
            f"WHERE id IN ({', '.join('?' * len(chunk))})"
        )
        for oid, created, source_event in conn.execute(sql, chunk):
            found[oid] = (created, source_event)
    return found


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert event rows (payload already JSON text), skipping stored ids; return rows added."""
    conn = driver_connection(session)
    ts = _timestamps(
        session, [r["received_at"] for r in rows] + [r["next_attempt_at"] for r in rows]
    )
    return execute_rows(
        conn,
        _EVENTS_HEAD,
        _EVENTS_TAIL,
        len(EVENT_COLUMNS),
        [
            (
                r["event_id"],
                r["account"],
                r["type"],
                r["created"],
                r["api_version"],
                1 if r["livemode"] else 0,
                r["object_id"],
                r["payload"],
                r["source"],
                ts[r["received_at"]],
                r["status"],
                r["attempts"],
                ts[r["next_attempt_at"]],
                r["last_error"],
            )
            for r in rows
        ],
    )


def upsert_snapshots(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert snapshot rows (data already JSON text) unless a newer one is stored."""
    conn = driver_connection(session)
    ts = _timestamps(session, [r["updated_at"] for r in rows])
    return execute_rows(
        conn,
        _SNAPSHOTS_HEAD,
        _SNAPSHOTS_TAIL,
        len(SNAPSHOT_COLUMNS),
        [
            (
                r["id"],
                r["account"],
                r["object_type"],
                r["source_created"],
                r["source_event_id"],
                r["data"],
                ts[r["updated_at"]],
            )
            for r in rows
        ],
    )
