"""Read access to the synced Stripe store for the books: snapshots by type, tax and charges.

Reads `stripe_objects` (the sync engine's latest snapshots) and hands plain dicts to the pure
modules. Filtering by date happens here on each object's own `created` field.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models.base import utcnow
from core.models.sync import StripeObject
from core.sync.invoice_shape import invoice_charge_id, invoice_payment_intent_id
from core.sync.snapshots import store_fetched


def objects_of_type(
    session: Session, object_type: str, account: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every stored snapshot of one type (optionally of one account), as plain dicts."""
    stmt = select(StripeObject.account, StripeObject.data).where(
        StripeObject.object_type == object_type
    )
    if account is not None:
        stmt = stmt.where(StripeObject.account == account)
    for acct, data in session.execute(stmt.execution_options(yield_per=1000)):
        yield {**data, "_account": acct}


def get_object(session: Session, object_id: str) -> dict[str, Any] | None:
    """One stored snapshot by id, or None."""
    data = session.scalar(select(StripeObject.data).where(StripeObject.id == object_id))
    return dict(data) if data is not None else None


def epoch_range(
    date_from: date | None, date_to: date | None, tz: ZoneInfo
) -> tuple[int | None, int | None]:
    """[start, end) epoch seconds of whole local days from `date_from` through `date_to`."""
    start = int(datetime.combine(date_from, time(), tz).timestamp()) if date_from else None
    end = (
        int(datetime.combine(date_to + timedelta(days=1), time(), tz).timestamp())
        if date_to
        else None
    )
    return start, end


def in_range(created: int | None, start: int | None, end: int | None) -> bool:
    """Whether an epoch timestamp falls in [start, end)."""
    if created is None:
        return False
    return (start is None or created >= start) and (end is None or created < end)


def local_day(epoch: int, tz: ZoneInfo) -> date:
    """The team-local calendar day of an epoch timestamp."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(tz).date()


def invoice_tax_amount(inv: dict[str, Any]) -> int:
    """Tax on an invoice: `total_taxes` (current shape), else line taxes, else `tax` (older)."""
    totals = inv.get("total_taxes")
    if totals:
        return sum(int(t.get("amount") or 0) for t in totals)
    lines = (inv.get("lines") or {}).get("data") or []
    line_tax = sum(int(t.get("amount") or 0) for ln in lines for t in (ln.get("taxes") or []))
    if line_tax:
        return line_tax
    return int(inv.get("tax") or 0)


# How far before a payment its invoice may have been created (retries, net-90 terms, drafts).
TAX_LOOKBACK_S = 400 * 86_400
INVOICES_PER_READ = 100


def tax_by_payment(
    session: Session, since: int | None = None, until: int | None = None
) -> dict[str, int]:
    """Tax per charge id and per payment intent id, from invoices created in [since, until)."""
    stmt = select(StripeObject.data).where(StripeObject.object_type == "invoice")
    created = StripeObject.data["created"].as_integer()
    if since is not None:
        stmt = stmt.where(created >= since)
    if until is not None:
        stmt = stmt.where(created < until)
    out: dict[str, int] = {}
    # An invoice decodes to tens of kilobytes of dicts: read a few at a time (what is kept is two
    # ids and an amount per taxed invoice), whatever the number of invoices in the window.
    for inv in session.scalars(stmt.execution_options(yield_per=INVOICES_PER_READ)):
        tax = invoice_tax_amount(inv)
        if not tax:
            continue
        for ref in (invoice_charge_id(inv), invoice_payment_intent_id(inv)):
            if ref:
                out[ref] = tax
    return out


def objects_by_id(
    session: Session, ids: list[str], object_type: str | None = None
) -> dict[str, dict[str, Any]]:
    """Stored snapshots for just these ids (read in chunks of 500), by id."""
    unique = sorted(set(ids))
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(unique), 500):
        stmt = select(StripeObject.id, StripeObject.data).where(
            StripeObject.id.in_(unique[i : i + 500])
        )
        if object_type is not None:
            stmt = stmt.where(StripeObject.object_type == object_type)
        out.update({oid: dict(data) for oid, data in session.execute(stmt)})
    return out


# The fields of a balance transaction a payout's summary reads (core/books/payouts.py summarize).
BT_FIELDS = ("reporting_category", "type", "source")
BT_AMOUNTS = ("amount", "fee")


def balance_transaction_parts(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Just the fields a payout summary needs of these balance transactions (read in chunks of
    500), by id: a payout of thousands of charges costs a few small dicts, not their snapshots."""
    return fields_by_id(session, ids, BT_FIELDS, BT_AMOUNTS)


def fields_by_id(
    session: Session,
    ids: list[str],
    strings: tuple[str, ...],
    integers: tuple[str, ...] = (),
    object_type: str | None = None,
) -> dict[str, dict[str, Any]]:
    """A few top-level fields of these stored snapshots (read in chunks of 500), by id, each as
    {"id": ..., field: value}: the database extracts them, so no snapshot is decoded whole."""
    unique = sorted(set(ids))
    cols = [StripeObject.data[f].as_string() for f in strings] + [
        StripeObject.data[f].as_integer() for f in integers
    ]
    names = strings + integers
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(unique), 500):
        stmt = select(StripeObject.id, *cols).where(StripeObject.id.in_(unique[i : i + 500]))
        if object_type is not None:
            stmt = stmt.where(StripeObject.object_type == object_type)
        for oid, *values in session.execute(stmt):
            out[oid] = {"id": oid, **dict(zip(names, values, strict=True))}
    return out


def store_objects(session: Session, account: str, objects: list[dict[str, Any]]) -> int:
    """Keep snapshots of objects read directly from Stripe (e.g. a payout's transactions)."""
    clean = [{k: v for k, v in o.items() if not k.startswith("_")} for o in objects]
    return store_fetched(session, clean, account=account, fetched_at=int(utcnow().timestamp()))
