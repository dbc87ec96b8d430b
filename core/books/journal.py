"""Journal batches: per day or per payout, built from balance transactions, exported once.

A batch is rebuilt from the store until its first export; from then on it is frozen. A balance
transaction already in an exported batch never goes into another one, so switching between day
and payout batches cannot book anything twice. A second export of a batch is refused unless
forced, and a forced one is recorded and marked as a re-export. Building lives in
core/books/journal_build.py (re-exported here).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.books.journal_build import (
    chart_for,
)
from core.books.journal_export import FORMATS, ExportEntry, ExportLine, render
from core.config import Settings
from core.errors import ConflictError, InputError, NotFound
from core.governance.audit import record as audit_record
from core.governance.auth import SYSTEM_ACTOR, Actor, require_role
from core.models.base import utcnow
from core.models.books import JournalBatch, JournalEntry, JournalExport, JournalLine
from core.money import to_major


def get_batch(session: Session, ref: str) -> JournalBatch:
    """A batch by id or key (e.g. "12", "day:platform:2026-01-05", "payout:po_...")."""
    stmt = select(JournalBatch).where(
        JournalBatch.id == int(ref) if ref.isdigit() else JournalBatch.key == ref
    )
    batch = session.scalar(stmt)
    if batch is None:
        raise NotFound(
            f"no journal batch {ref!r}: build batches first (python -m jobs journal build)."
        )
    return batch


def batch_export_entries(session: Session, batch: JournalBatch) -> list[ExportEntry]:
    """The batch's entries in the plain form the export formats take."""
    entries = session.scalars(
        select(JournalEntry).where(JournalEntry.batch_id == batch.id).order_by(JournalEntry.id)
    ).all()
    lines: dict[int, list[JournalLine]] = {}
    for ln in session.scalars(
        select(JournalLine)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.batch_id == batch.id)
        .order_by(JournalLine.entry_id, JournalLine.line_no)
    ):
        lines.setdefault(ln.entry_id, []).append(ln)
    return [
        ExportEntry(
            number=f"LD{batch.id}-{i}",
            entry_date=e.entry_date,
            currency=e.currency,
            description=f"Stripe {e.reporting_category} {e.source_id}",
            lines=tuple(
                ExportLine(
                    ln.account_code,
                    ln.account_name,
                    ln.debit,
                    ln.credit,
                    ln.description,
                )
                for ln in lines.get(e.id, [])
            ),
            exchange_rate=e.exchange_rate,
            original_currency=e.original_currency,
            original_amount=e.original_amount,
        )
        for i, e in enumerate(entries, start=1)
    ]


@dataclass(frozen=True)
class ExportedFile:
    """A journal export: the CSV bytes, its file name and whether it was a re-export."""

    data: bytes
    filename: str
    reexport: bool
    rows: int
    batch: str = ""
    format: str = ""

    @property
    def sha256(self) -> str:
        """The file's fingerprint: the same file fetched again is not booked again."""
        return hashlib.sha256(self.data).hexdigest()


EXPORT_ROLES = ("operator",)  # who may hand the books a batch: operators and above, not viewers


def render_batch(
    session: Session,
    settings: Settings,
    ref: str,
    fmt: str,
    *,
    force: bool = False,
    actor: Actor = SYSTEM_ACTOR,
) -> ExportedFile:
    """The file of a batch for QBO / Xero / NetSuite, not yet booked as exported (that happens
    when it is handed over: `record_export`). Refused for a batch already exported unless forced."""
    if not actor.is_system:  # the jobs and the command line run as the system
        require_role(actor, *EXPORT_ROLES)
    if fmt not in FORMATS:
        raise InputError(f"unknown journal format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    batch = get_batch(session, ref)
    if batch.exported_at is not None and not force:
        last = session.scalar(
            select(JournalExport)
            .where(JournalExport.batch_id == batch.id)
            .order_by(JournalExport.id.desc())
            .limit(1)
        )
        how = f" as {last.format} by {last.exported_by}" if last else ""
        raise ConflictError(
            f"journal batch {batch.key} was already exported on "
            f"{batch.exported_at:%Y-%m-%d %H:%M} UTC{how}; importing it again would book it twice. "
            "Use --force (or the re-export button) to export it again as a marked re-export."
        )
    entries = batch_export_entries(session, batch)
    text = render(entries, fmt, xero_tax_rate=chart_for(settings).xero_tax_rate)
    reexport = batch.exported_at is not None
    safe_key = batch.key.replace(":", "_").replace("#", "_")
    filename = f"journal_{safe_key}_{fmt}{'_reexport' if reexport else ''}.csv"
    rows = sum(len(e.lines) for e in entries)
    return ExportedFile(text.encode("utf-8"), filename, reexport, rows, batch.key, fmt)


def record_export(session: Session, file: ExportedFile, *, actor: Actor = SYSTEM_ACTOR) -> bool:
    """Book the batch as exported now that its file was handed over; True when booked. The same
    file fetched again (the last export's name and bytes) is not booked twice; a forced
    re-export is a new file and is booked as a re-export."""
    if not actor.is_system:  # the jobs and the command line run as the system
        require_role(actor, *EXPORT_ROLES)
    batch = get_batch(session, file.batch)
    last = session.scalar(
        select(JournalExport)
        .where(JournalExport.batch_id == batch.id)
        .order_by(JournalExport.id.desc())
        .limit(1)
    )
    same = last is not None and (last.sha256, last.filename) == (file.sha256, file.filename)
    if same:
        audit_record(
            session,
            actor,
            "journal.fetched_again",
            f"journal_batch:{batch.key}",
            None,
            {"format": file.format, "file": file.filename},
        )
        return False
    session.add(
        JournalExport(
            batch_id=batch.id,
            format=file.format,
            exported_by=actor.username,
            reexport=file.reexport,
            filename=file.filename,
            sha256=file.sha256,
            rows=file.rows,
        )
    )
    before = {"exported_at": batch.exported_at, "export_count": batch.export_count}
    batch.exported_at = batch.exported_at or utcnow()
    batch.export_count += 1
    audit_record(
        session,
        actor,
        "journal.reexport" if file.reexport else "journal.export",
        f"journal_batch:{batch.key}",
        before,
        {"format": file.format, "rows": file.rows, "export_count": batch.export_count},
    )
    return True


def export_batch(
    session: Session,
    settings: Settings,
    ref: str,
    fmt: str,
    *,
    force: bool = False,
    actor: Actor = SYSTEM_ACTOR,
) -> ExportedFile:
    """Render a batch and book it as exported at once (the command line writes the file)."""
    file = render_batch(session, settings, ref, fmt, force=force, actor=actor)
    record_export(session, file, actor=actor)
    return file


def list_batches(session: Session, limit: int = 200) -> list[JournalBatch]:
    """The most recent batches, newest period first."""
    stmt = (
        select(JournalBatch)
        .order_by(JournalBatch.period_date.desc(), JournalBatch.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def journal_lines_frame_rows(
    session: Session, date_from: date | None, date_to: date | None
) -> list[dict[str, Any]]:
    """Flat rows (entry + line) for the journal report."""
    stmt = (
        select(JournalEntry, JournalLine, JournalBatch.key)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .join(JournalBatch, JournalBatch.id == JournalEntry.batch_id)
        .order_by(JournalEntry.entry_date, JournalEntry.id, JournalLine.line_no)
    )
    if date_from:
        stmt = stmt.where(JournalEntry.entry_date >= date_from)
    if date_to:
        stmt = stmt.where(JournalEntry.entry_date <= date_to)
    return [
        {
            "date": e.entry_date,
            "batch": key,
            "source": e.source_id,
            "category": e.reporting_category,
            "account_code": ln.account_code,
            "account": ln.account_name,
            "debit": to_major(ln.debit, e.currency),
            "credit": to_major(ln.credit, e.currency),
            "currency": e.currency,
            "exchange_rate": e.exchange_rate,
            "original_currency": e.original_currency,
            "description": ln.description,
        }
        for e, ln, key in session.execute(stmt)
    ]


def batch_currencies(session: Session, batch_ids: list[int]) -> dict[int, str]:
    """The currency of each listed batch's entries (a batch holds one balance currency)."""
    if not batch_ids:
        return {}
    stmt = (
        select(JournalEntry.batch_id, func.min(JournalEntry.currency))
        .where(JournalEntry.batch_id.in_(batch_ids))
        .group_by(JournalEntry.batch_id)
    )
    return {int(b): str(c) for b, c in session.execute(stmt)}


@dataclass(frozen=True)
class SuspenseCategory:
    """A reporting category whose entries were booked to the suspense account."""

    category: str
    entries: int
    batches: int
    exported_entries: int


def suspense_categories(session: Session) -> list[SuspenseCategory]:
    """Categories booked to suspense (no account in the chart), most entries first."""
    exported = case((JournalBatch.exported_at.is_not(None), JournalEntry.id), else_=None)
    stmt = (
        select(
            JournalEntry.reporting_category,
            func.count(func.distinct(JournalEntry.id)),
            func.count(func.distinct(JournalEntry.batch_id)),
            func.count(func.distinct(exported)),
        )
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .join(JournalBatch, JournalBatch.id == JournalEntry.batch_id)
        .where(JournalLine.role == "suspense")
        .group_by(JournalEntry.reporting_category)
    )
    rows = [
        SuspenseCategory(str(c), int(n), int(b), int(x)) for c, n, b, x in session.execute(stmt)
    ]
    return sorted(rows, key=lambda r: (-r.entries, r.category))


def batch_suspense_counts(session: Session, batch_ids: list[int]) -> dict[int, int]:
    """How many entries of each listed batch were booked to suspense."""
    if not batch_ids:
        return {}
    stmt = (
        select(JournalEntry.batch_id, func.count(func.distinct(JournalEntry.id)))
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.batch_id.in_(batch_ids), JournalLine.role == "suspense")
        .group_by(JournalEntry.batch_id)
    )
    return {int(b): int(n) for b, n in session.execute(stmt)}
