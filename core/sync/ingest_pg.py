"""PostgreSQL fast path of ingestion: one statement per batch, each column one binary array.

Rows arrive with their JSON already encoded once (orjson, core/sync/ingest_prepare.py). Through
SQLAlchemy's multi-row `VALUES` they would cost the driver more than the server: psycopg
rewrites the placeholders of every statement of thousands of rows (it caches only short
queries), and the JSON type encodes each payload again. Here a batch is one short, cached
statement — `INSERT ... SELECT ... FROM unnest(%b::text[], ...)` — whose columns go as binary
arrays (the JSON text unescaped, cast to jsonb by the server); the same `ON CONFLICT` semantics
as the SQLite path (unique event id, DO NOTHING; snapshot upsert guarded by `source_created`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from core.sync.ingest_sqlite import EVENT_COLUMNS, SNAPSHOT_COLUMNS, SNAPSHOT_UPDATE_COLUMNS

_TYPES = {
    "event_id": "text",
    "account": "text",
    "type": "text",
    "created": "bigint",
    "api_version": "text",
    "livemode": "boolean",
    "object_id": "text",
    "payload": "jsonb",
    "source": "text",
    "received_at": "timestamptz",
    "status": "text",
    "attempts": "integer",
    "next_attempt_at": "timestamptz",
    "last_error": "text",
    "id": "text",
    "object_type": "text",
    "source_created": "bigint",
    "source_event_id": "text",
    "data": "jsonb",
    "updated_at": "timestamptz",
}


def _insert(table: str, columns: Sequence[str], tail: str) -> str:
    def sent_as(c: str) -> str:  # JSON travels as text, becomes jsonb in the server
        return "text" if _TYPES[c] == "jsonb" else _TYPES[c]

    picked = ", ".join(f"{c}::jsonb" if _TYPES[c] == "jsonb" else c for c in columns)
    arrays = ", ".join(f"%b::{sent_as(c)}[]" for c in columns)
    names = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {picked} FROM unnest({arrays}) AS r({names}) " + tail
    )


_INSERT_EVENTS = _insert("events", EVENT_COLUMNS, "ON CONFLICT (event_id) DO NOTHING")
_UPSERT_SNAPSHOTS = _insert(
    "stripe_objects",
    SNAPSHOT_COLUMNS,
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SNAPSHOT_UPDATE_COLUMNS)
    # A concurrent writer (webhook and poll) may have stored a newer state meanwhile.
    + " WHERE excluded.source_created >= stripe_objects.source_created",
)


def _execute(session: Session, sql: str, columns: Sequence[str], rows: Sequence[Any]) -> int:
    conn: Any = session.connection().connection.driver_connection
    with conn.cursor() as cursor:
        cursor.execute(sql, [[r[c] for r in rows] for c in columns])
        return int(cursor.rowcount)


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert event rows (payload already JSON text), skipping stored ids; return rows added."""
    return _execute(session, _INSERT_EVENTS, EVENT_COLUMNS, rows)


def upsert_snapshots(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert snapshot rows (data already JSON text, one row per id, in the order the caller
    locks them) unless a newer one is stored; return how many were written."""
    return _execute(session, _UPSERT_SNAPSHOTS, SNAPSHOT_COLUMNS, rows)
