"""Journal batches from balance transactions: incremental, one read of what is new.

A day batch takes the balance transactions that are in no day batch yet (and in no exported
batch): an anti-join in SQL, so an hourly run reads only what arrived since the last one. Tax
and charges are read for just those transactions. Exported batches are frozen; late
transactions for their day go to a supplementary batch ("...#2").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from core.books.data import (
    TAX_LOOKBACK_S,
    epoch_range,
    fields_by_id,
    get_object,
    local_day,
    objects_by_id,
    tax_by_payment,
)
from core.books.ledger_mapping import (
    ChartOfAccounts,
    EntryDraft,
    load_chart,
    map_balance_transaction,
)
from core.config import Settings
from core.errors import InputError
from core.models.base import utcnow
from core.models.books import JournalBatch, JournalEntry, JournalLine
from core.models.sync import StripeObject


def chart_for(settings: Settings) -> ChartOfAccounts:
    """The configured chart of accounts (CHART_OF_ACCOUNTS_FILE) or the built-in one."""
    try:
        return load_chart(settings.chart_of_accounts_file)
    except ValueError as exc:
        raise InputError(f"CHART_OF_ACCOUNTS_FILE: {exc}.") from None


# What mapping reads of the charge a transaction pays (draft_entries): its original currency and
# amount, and its payment intent to find the invoice's tax.
CHARGE_FIELDS = ("currency", "payment_intent")


@dataclass(frozen=True)
class DraftContext:
    """What mapping needs beyond the transactions: invoice tax and the charges they pay (only
    CHARGE_FIELDS and the amount of each)."""

    taxes: dict[str, int]
    charges: dict[str, dict[str, Any]]


def _source_id(bt: dict[str, Any]) -> str:
    source = bt.get("source")
    return str((source.get("id") if isinstance(source, dict) else source) or "")


def draft_context(session: Session, bts: list[dict[str, Any]]) -> DraftContext:
    """Tax and charges for just these transactions: two bounded reads, never a whole table."""
    refs = [
        _source_id(b)
        for b in bts
        if b.get("exchange_rate") or b.get("reporting_category") in ("charge", "payment")
    ]
    charges = fields_by_id(session, [r for r in refs if r], CHARGE_FIELDS, ("amount",), "charge")
    created = [int(b["created"]) for b in bts if b.get("created")]
    taxes = (
        tax_by_payment(session, min(created) - TAX_LOOKBACK_S, max(created) + 86_400)
        if created
        else {}
    )
    return DraftContext(taxes, charges)


def draft_entries(
    session: Session,
    settings: Settings,
    bts: list[dict[str, Any]],
    payout_id: str | None = None,
    context: DraftContext | None = None,
) -> list[EntryDraft]:
    """Balanced entries for balance transactions, with invoice tax and original currency."""
    chart = chart_for(settings)
    ctx = context or draft_context(session, bts)
    drafts = []
    for bt in bts:
        source_id = _source_id(bt)
        charge = ctx.charges.get(source_id) if bt.get("exchange_rate") else None
        tax = 0
        if bt.get("reporting_category") in ("charge", "payment") and source_id:
            tax = ctx.taxes.get(source_id, 0)
            if not tax:
                ch = ctx.charges.get(source_id) or {}
                tax = ctx.taxes.get(str(ch.get("payment_intent") or ""), 0)
        drafts.append(
            map_balance_transaction(
                bt,
                chart,
                tax_amount=tax,
                original_currency=charge.get("currency") if charge else None,
                original_amount=charge.get("amount") if charge else None,
                payout_id=payout_id,
            )
        )
    return drafts


def _exported_sources(session: Session, ids: list[str]) -> set[str]:
    """Which of `ids` are already in an exported batch."""
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        stmt = (
            select(JournalEntry.source_id)
            .join(JournalBatch, JournalBatch.id == JournalEntry.batch_id)
            .where(JournalBatch.exported_at.is_not(None))
            .where(JournalEntry.source_id.in_(ids[i : i + 500]))
        )
        out.update(session.scalars(stmt))
    return out


def _add_entries(
    session: Session, batch: JournalBatch, drafts: list[EntryDraft], settings: Settings
) -> None:
    """Append `drafts` to a batch: one flush for the entries, one for their lines."""
    entries = [
        JournalEntry(
            batch_id=batch.id,
            source_id=d.source_id,
            account=batch.account,
            created=d.created,
            entry_date=local_day(d.created, settings.tz),
            currency=d.currency,
            reporting_category=d.reporting_category,
            description=d.description[:2000],
            exchange_rate=d.exchange_rate,
            original_currency=d.original_currency,
            original_amount=d.original_amount,
            payout_id=d.payout_id,
        )
        for d in drafts
    ]
    session.add_all(entries)
    session.flush()
    session.add_all(
        JournalLine(
            entry_id=entry.id,
            line_no=i,
            role=ln.role,
            account_code=ln.account.code,
            account_name=ln.account.name,
            debit=ln.debit,
            credit=ln.credit,
            description=ln.description[:2000],
        )
        for entry, d in zip(entries, drafts, strict=True)
        for i, ln in enumerate(d.lines, start=1)
    )
    batch.entry_count = (batch.entry_count or 0) + len(drafts)
    batch.total_debit = (batch.total_debit or 0) + sum(d.total_debit for d in drafts)
    batch.updated_at = utcnow()


def _store(
    session: Session, batch: JournalBatch, drafts: list[EntryDraft], settings: Settings
) -> None:
    """Replace the entries of an unexported batch with `drafts`."""
    session.execute(delete(JournalEntry).where(JournalEntry.batch_id == batch.id))
    batch.entry_count, batch.total_debit = 0, 0
    _add_entries(session, batch, drafts, settings)


def _open_batch(session: Session, key: str, **fields: Any) -> JournalBatch | None:
    """The batch for `key` (created if new), or None when it is frozen by an export."""
    batch = session.scalar(select(JournalBatch).where(JournalBatch.key == key))
    if batch is None:
        batch = JournalBatch(key=key, entry_count=0, total_debit=0, export_count=0, **fields)
        session.add(batch)
        session.flush()
    return None if batch.exported_at is not None else batch


def _unbooked_day_refs(
    session: Session, start: int | None, end: int | None, account: str | None
) -> list[tuple[str, str, int]]:
    """(account, id, created) of the balance transactions in no day batch and no exported
    batch (an anti-join, in SQL)."""
    booked = (
        select(JournalEntry.id)
        .join(JournalBatch, JournalBatch.id == JournalEntry.batch_id)
        .where(
            JournalEntry.source_id == StripeObject.id,
            or_(JournalBatch.kind == "day", JournalBatch.exported_at.is_not(None)),
        )
    )
    created = StripeObject.data["created"].as_integer()
    stmt = select(StripeObject.account, StripeObject.id, created).where(
        StripeObject.object_type == "balance_transaction", ~booked.exists()
    )
    if account is not None:
        stmt = stmt.where(StripeObject.account == account)
    if start is not None:
        stmt = stmt.where(created >= start)
    if end is not None:
        stmt = stmt.where(created < end)
    rows = session.execute(stmt.execution_options(yield_per=2000))
    return [(acct, bt_id, int(at)) for acct, bt_id, at in rows if at]


def _unbook_open_days(session: Session, start: int | None, end: int | None) -> None:
    """Drop the entries of unexported day batches in the range, so they are mapped afresh."""
    open_days = select(JournalBatch.id).where(
        JournalBatch.kind == "day", JournalBatch.exported_at.is_(None)
    )
    stmt = delete(JournalEntry).where(JournalEntry.batch_id.in_(open_days))
    if start is not None:
        stmt = stmt.where(JournalEntry.created >= start)
    if end is not None:
        stmt = stmt.where(JournalEntry.created < end)
    session.execute(stmt)
    totals = (
        select(
            JournalEntry.batch_id,
            func.count(func.distinct(JournalEntry.id)),
            func.coalesce(func.sum(JournalLine.debit), 0),
        )
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.batch_id.in_(open_days))
        .group_by(JournalEntry.batch_id)
    )
    figures = {b: (int(n), int(d)) for b, n, d in session.execute(totals)}
    for batch in session.scalars(select(JournalBatch).where(JournalBatch.id.in_(open_days))):
        batch.entry_count, batch.total_debit = figures.get(batch.id, (0, 0))


def build_day_batches(
    session: Session,
    settings: Settings,
    date_from: date | None = None,
    date_to: date | None = None,
    account: str | None = None,
    *,
    rebuild: bool = False,
) -> list[JournalBatch]:
    """Book new balance transactions into one batch per account and local day (incremental).

    Only transactions in no day batch (and no exported one) are read, so an hourly run costs
    what arrived since the last one. `rebuild` maps the unexported day batches afresh (after a
    chart-of-accounts change).
    """
    start, end = epoch_range(date_from, date_to, settings.tz)
    if rebuild:
        _unbook_open_days(session, start, end)
    by_day: dict[tuple[str, date], list[str]] = {}
    for acct, bt_id, created in _unbooked_day_refs(session, start, end, account):
        by_day.setdefault((acct, local_day(created, settings.tz)), []).append(bt_id)
    batches = []
    # Whole days, about CHUNK_BTS transactions at a time: what a run holds in memory is one
    # chunk's snapshots and entries, not every unbooked transaction of the store (a first run).
    for days in _day_chunks(sorted(by_day.items()), CHUNK_BTS):
        found = objects_by_id(session, [i for _, ids in days for i in ids], "balance_transaction")
        chunk = [
            ((acct, day), [{**found[i], "_account": acct} for i in ids if i in found])
            for (acct, day), ids in days
        ]
        context = draft_context(session, [bt for _, rows in chunk for bt in rows])
        for (acct, day), rows in chunk:
            key = f"day:{acct or 'platform'}:{day.isoformat()}"
            n = 1
            batch = _open_batch(session, key, kind="day", account=acct, period_date=day)
            while batch is None:  # frozen: late transactions go to a supplementary batch
                n += 1
                batch = _open_batch(
                    session, f"{key}#{n}", kind="day", account=acct, period_date=day
                )
            rows.sort(key=lambda b: (b.get("created") or 0, b.get("id") or ""))
            drafts = draft_entries(session, settings, rows, None, context)
            _add_entries(session, batch, drafts, settings)
            batches.append(batch)
        session.flush()
        for obj in [
            o for o in session.identity_map.values() if isinstance(o, JournalEntry | JournalLine)
        ]:
            session.expunge(obj)  # written: the session need not keep them
    return batches


CHUNK_BTS = 2000


def _day_chunks(
    days: list[tuple[tuple[str, date], list[str]]], size: int
) -> Iterator[list[tuple[tuple[str, date], list[str]]]]:
    """Consecutive whole days, each group about `size` transactions (a bigger day alone)."""
    group: list[tuple[tuple[str, date], list[str]]] = []
    count = 0
    for day in days:
        if group and count + len(day[1]) > size:
            yield group
            group, count = [], 0
        group.append(day)
        count += len(day[1])
    if group:
        yield group


def build_payout_batch(
    session: Session,
    settings: Settings,
    payout: dict[str, Any],
    bts: list[dict[str, Any]],
) -> JournalBatch | None:
    """(Re)build the batch of one payout: its balance transactions and the payout itself."""
    key = f"payout:{payout['id']}"
    batch = _open_batch(
        session,
        key,
        kind="payout",
        account=payout.get("_account", ""),
        period_date=local_day(int(payout.get("arrival_date") or payout["created"]), settings.tz),
        payout_id=payout["id"],
    )
    if batch is None:
        return None
    own = get_object(session, str(payout.get("balance_transaction") or ""))
    rows = list(bts)
    if own and all(b.get("id") != own["id"] for b in rows):
        rows.append(own)
    done = _exported_sources(session, [str(b.get("id")) for b in rows])
    rows = [b for b in rows if b.get("id") not in done]
    _store(session, batch, draft_entries(session, settings, rows, payout["id"]), settings)
    return batch
