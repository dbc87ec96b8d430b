"""Latest snapshots of Stripe objects: reading them, and reading from Stripe the ones queued
for a fresh read (ambiguous same-second snapshots, objects an event referred to first)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    delete,
    select,
    text,
)
from sqlalchemy.orm import Session

from core.errors import StripeRequestError
from core.models.base import utcnow
from core.models.sync import SnapshotRefresh, StripeObject
from core.sync import ingest_pg, ingest_sqlite

# object type → list/retrieve resource of the StripeClient (client.v1.<resource>)
RESOURCES: dict[str, str] = {
    "customer": "customers",
    "subscription": "subscriptions",
    "invoice": "invoices",
    "charge": "charges",
    "payment_intent": "payment_intents",
    "refund": "refunds",
    "dispute": "disputes",
    "radar.early_fraud_warning": "radar.early_fraud_warnings",
    "payout": "payouts",
    "balance_transaction": "balance_transactions",
    "payment_method": "payment_methods",
    "price": "prices",
    "product": "products",
    "invoice_payment": "invoice_payments",
}


def get_object(session: Session, object_id: str) -> dict[str, Any] | None:
    """The latest stored snapshot of one object, or None."""
    data = session.scalar(select(StripeObject.data).where(StripeObject.id == object_id))
    return dict(data) if data is not None else None


def objects_of_type(
    session: Session,
    object_type: str,
    *,
    account: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Snapshots of one type (e.g. "dispute"), optionally for one account."""
    stmt = select(StripeObject.data).where(StripeObject.object_type == object_type)
    if account is not None:
        stmt = stmt.where(StripeObject.account == account)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(d) for d in session.scalars(stmt)]


def stream_objects_of_type(
    session: Session, object_type: str, *, chunk: int = 500
) -> Iterator[dict[str, Any]]:
    """Snapshots of one type, read `chunk` rows at a time: memory flat whatever the account's
    size (a whole table of subscriptions decoded at once is ~100 MB at 10,000 of them)."""
    stmt = select(StripeObject.data).where(StripeObject.object_type == object_type)
    for data in session.scalars(stmt.execution_options(yield_per=chunk)):
        yield dict(data)


def fetched_rows(
    objects: Iterable[Any], *, account: str, fetched_at: int, now: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """Snapshot rows of objects read directly from Stripe, by id (the last read of an id wins),
    their data encoded to JSON once (orjson); their fetch time is their `source_created`."""
    now = now or utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for o in objects:
        if isinstance(o, dict) and isinstance(o.get("id"), str):
            rows[o["id"]] = {
                "id": o["id"],
                "account": account,
                "object_type": str(o.get("object", "unknown"))[:64],
                "source_created": fetched_at,
                "source_event_id": None,
                "data": orjson.dumps(o).decode(),
                "updated_at": now,
            }
    return rows


def store_snapshot_rows(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert rows from `fetched_rows` (one per id) in the caller's transaction, unless a newer
    snapshot is stored; return how many were written. On the driver, with the JSON encoded once:
    multi-row statements on SQLite (core/sync/ingest_sqlite.py), one statement of column arrays
    on PostgreSQL (core/sync/ingest_pg.py)."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "sqlite":
        return ingest_sqlite.upsert_snapshots(session, rows)
    return ingest_pg.upsert_snapshots(session, lock_snapshot_writes(session, rows))


def lock_snapshot_writes(session: Session, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """On PostgreSQL, take the transaction's turn to write these accounts' snapshots, and return
    the rows in id order.

    Two writers of one account's snapshots in one sync — the backfill's writer and the event walk
    beside it, or a webhook — each upsert many rows in a transaction; rows locked in different
    orders deadlock. Each writer first takes a transaction-scoped advisory lock per account (in
    a fixed order, before any row lock), so they take turns; other accounts' syncs go on. SQLite
    needs none: its writers already take turns (BEGIN IMMEDIATE).
    """
    ordered = sorted(rows, key=lambda r: r["id"])
    for account in sorted({str(r.get("account") or "") for r in ordered}):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
            {"k": f"ledgerdesk.stripe_objects:{account}"},
        )
    return ordered


def store_fetched(
    session: Session, objects: list[dict[str, Any]], *, account: str, fetched_at: int
) -> int:
    """Store objects read directly from Stripe; their fetch time is their `source_created`."""
    rows = fetched_rows(objects, account=account, fetched_at=fetched_at)
    return store_snapshot_rows(session, list(rows.values()))


PER_POLL = 20  # fetches per poll: a busy second must not turn every poll into 100 requests
PAYMENTS_SUFFIX = "#payments"  # "<invoice id>#payments": the invoice's payments, listed


def refresh_requested(
    session_factory: Any,
    fetch: Callable[[str, str], dict[str, Any]],
    list_page: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
    *,
    account: str,
    limit: int = PER_POLL,
    clock: Callable[[], float] = time.time,
) -> int:
    """Read the objects queued for a fresh read — same-second (ambiguous) snapshots, and
    objects an event referred to before the store held them — oldest request first, at most
    `limit` per poll; store them and return how many were read."""
    with session_factory() as session:
        pending = session.execute(
            select(SnapshotRefresh.object_id, SnapshotRefresh.object_type)
            .where(SnapshotRefresh.account == account)
            .order_by(SnapshotRefresh.requested_at, SnapshotRefresh.object_id)
            .limit(limit)
        ).all()
    done = 0
    for object_id, object_type in pending:
        fetched_at = int(clock())
        found: list[dict[str, Any]] = []
        try:
            if object_id.endswith(PAYMENTS_SUFFIX) and list_page is not None:
                invoice_id = object_id[: -len(PAYMENTS_SUFFIX)]
                page = list_page("invoice_payments", {"invoice": invoice_id, "limit": 100})
                found = [o for o in page.get("data") or [] if isinstance(o, dict)]
            elif (resource := RESOURCES.get(object_type)) is not None:
                found = [fetch(resource, object_id)]
        except StripeRequestError:
            found = []  # deleted, or not readable with this key: the event says why it waits
        with session_factory.begin() as session:
            if found:
                store_fetched(session, found, account=account, fetched_at=fetched_at)
                done += 1
            session.execute(delete(SnapshotRefresh).where(SnapshotRefresh.object_id == object_id))
    return done


def payments_request(invoice_id: str) -> str:
    """The refresh-queue key that lists an invoice's payments."""
    return invoice_id + PAYMENTS_SUFFIX
