"""Latest snapshots of Stripe objects: reading them, and reading from Stripe the ones queued
for a fresh read (ambiguous same-second snapshots, objects an event referred to first)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import upsert
from core.errors import StripeRequestError
from core.models.base import utcnow
from core.models.sync import SnapshotRefresh, StripeObject
from core.sync.ingest_sqlite import SNAPSHOT_UPDATE_COLUMNS

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


def store_fetched(
    session: Session, objects: list[dict[str, Any]], *, account: str, fetched_at: int
) -> int:
    """Store objects read directly from Stripe; their fetch time is their `source_created`."""
    now = utcnow()
    rows = [
        {
            "id": o["id"],
            "account": account,
            "object_type": str(o.get("object", "unknown"))[:64],
            "source_created": fetched_at,
            "source_event_id": None,
            "data": o,
            "updated_at": now,
        }
        for o in objects
        if isinstance(o, dict) and isinstance(o.get("id"), str)
    ]
    table = StripeObject.__table__
    return upsert(
        session,
        table,  # type: ignore[arg-type]
        rows,
        ["id"],
        SNAPSHOT_UPDATE_COLUMNS,
        where=lambda excluded: excluded.source_created >= table.c.source_created,
    )


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
