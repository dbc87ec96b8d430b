"""The synced Stripe store: raw events, latest object snapshots and per-account sync state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, JSONType, UTCDateTime, utcnow


class Event(Base):
    """One Stripe event, stored once, then processed from the queue."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    type: Mapped[str] = mapped_column(String(128))
    created: Mapped[int] = mapped_column(BigInteger)
    api_version: Mapped[str | None] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    object_id: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_events_status_next_attempt_at", "status", "next_attempt_at"),
        # No (account, created) index: nothing reads events by account and time, and each one
        # cost every event marked processed an index entry (migration 0019).
        # (object_id, ...) lookups use ix_events_object_id_type_created (models/performance.py).
        Index("ix_events_type_created", "type", "created"),
        Index("ix_events_received_at", "received_at"),
    )


class StripeObject(Base):
    """The latest known snapshot of one Stripe object."""

    __tablename__ = "stripe_objects"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    object_type: Mapped[str] = mapped_column(String(64))
    # `created` of the event (or the fetch time of a direct read) that set this snapshot;
    # an older event never overwrites a newer snapshot.
    source_created: Mapped[int] = mapped_column(BigInteger)
    source_event_id: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_stripe_objects_account_object_type", "account", "object_type"),)


class SyncState(Base):
    """Per account and stream: the cursor, the last outcome and running counters."""

    __tablename__ = "sync_state"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(255))
    last_created: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="idle")
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    events_received: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    retries: Mapped[int] = mapped_column(BigInteger, default=0)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    # Added by 0002_sync: failed requests, when the overlap sweep last ran, and which key stopped it.
    errors: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_sweep_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_key: Mapped[str | None] = mapped_column(String(16))
    # Initial walk of the 30-day event window (newest → oldest): head id and how far it got.
    walk_head: Mapped[str | None] = mapped_column(String(255))
    walk_cursor: Mapped[str | None] = mapped_column(String(255))
    # Added by 0009_sync_first_load: what the server refused (shown on the health page), and
    # when a partial backfill may be retried (its back-off doubles with each failure).
    unsupported: Mapped[list[str] | None] = mapped_column(JSONType)
    retry_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# --- sync engine tables (migration 0002_sync) -------------------------------------------------


class SyncRun(Base):
    """One run of a sync stream for one account: what it fetched, how it ended, the lag it saw."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    stream: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    events_new: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    lag_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_sync_runs_account_started_at", "account", "started_at"),)


class WebhookReject(Base):
    """How many webhook deliveries were refused, per reason (bad signature, stale, too large…)."""

    __tablename__ = "webhook_rejects"

    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_detail: Mapped[str | None] = mapped_column(Text)


class BackfillShard(Base):
    """One `created` window of one list endpoint; its cursor makes an interrupted backfill resume."""

    __tablename__ = "backfill_shards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    resource: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[int] = mapped_column(BigInteger)
    window_end: Mapped[int] = mapped_column(BigInteger)
    cursor: Mapped[str | None] = mapped_column(String(255))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    objects: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)  # still failing after its retries (0009)

    __table_args__ = (
        UniqueConstraint(
            "account",
            "resource",
            "window_start",
            "window_end",
            name="uq_backfill_shards_window",
        ),
    )


class SnapshotRefresh(Base):
    """An object whose latest state is ambiguous (same-second events): re-read it from Stripe."""

    __tablename__ = "snapshot_refresh"

    object_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    object_type: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobLease(Base):
    """A lease held by one process (the scheduler), renewed by heartbeat, taken over on expiry."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccountLease(Base):
    """Which sync worker holds one Stripe account, until when (on the database's clock).

    `started_at` / `finished_at` are the last sync's claim and release: a sync that never
    finished (its worker died) leaves `finished_at` empty, so the account is due again as soon
    as the lease expires. After a release `holder` keeps the last worker's name.
    """

    __tablename__ = "account_leases"

    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
