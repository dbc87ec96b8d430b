"""Books: journal batches and entries, their exports, payout reconciliation, bank deposits,
entitlements (from the product's own export) and daily drift snapshots."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, JSONType, UTCDateTime, utcnow


class JournalBatch(Base):
    """The entries of one day or one payout, exported to the books as a unit."""

    __tablename__ = "journal_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "day:<account>:<YYYY-MM-DD>" or "payout:<po_...>": one batch per day / payout, ever.
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64), default="")
    period_date: Mapped[date | None] = mapped_column(Date)
    payout_id: Mapped[str | None] = mapped_column(String(255))
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    total_debit: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by the first export: from then on the batch is frozen.
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    export_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_journal_batches_kind_period_date", "kind", "period_date"),)


class JournalEntry(Base):
    """One balanced entry generated from one balance transaction."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("journal_batches.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(String(255))
    account: Mapped[str] = mapped_column(String(64), default="")
    created: Mapped[int] = mapped_column(BigInteger)
    entry_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    reporting_category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    exchange_rate: Mapped[float | None] = mapped_column(Float)
    original_currency: Mapped[str | None] = mapped_column(String(3))
    original_amount: Mapped[int | None] = mapped_column(BigInteger)
    payout_id: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("batch_id", "source_id", name="uq_journal_entries_batch_id_source_id"),
        Index("ix_journal_entries_entry_date", "entry_date"),
        Index("ix_journal_entries_source_id", "source_id"),
    )


class JournalLine(Base):
    """A debit or a credit of an entry on one ledger account (minor units)."""

    __tablename__ = "journal_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    account_code: Mapped[str] = mapped_column(String(64))
    account_name: Mapped[str] = mapped_column(String(255))
    debit: Mapped[int] = mapped_column(BigInteger, default=0)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)
    description: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_journal_lines_entry_id", "entry_id"),)


class JournalExport(Base):
    """A record of one export of a batch; a second one exists only when forced (re-export)."""

    __tablename__ = "journal_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("journal_batches.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(16))
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    exported_by: Mapped[str] = mapped_column(String(80))
    reexport: Mapped[bool] = mapped_column(Boolean, default=False)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_journal_exports_batch_id", "batch_id"),)


class PayoutReconciliation(Base):
    """One payout's breakdown from its balance transactions and whether it adds up."""

    __tablename__ = "payout_reconciliations"

    payout_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created: Mapped[int] = mapped_column(BigInteger)
    arrival_date: Mapped[date | None] = mapped_column(Date)
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(32))
    reconciliation_status: Mapped[str | None] = mapped_column(String(32))
    trace_id: Mapped[str | None] = mapped_column(String(255))
    gross: Mapped[int] = mapped_column(BigInteger, default=0)
    fees: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds: Mapped[int] = mapped_column(BigInteger, default=0)
    disputes: Mapped[int] = mapped_column(BigInteger, default=0)
    adjustments: Mapped[int] = mapped_column(BigInteger, default=0)
    net: Mapped[int] = mapped_column(BigInteger, default=0)
    difference: Mapped[int] = mapped_column(BigInteger, default=0)
    transaction_count: Mapped[int] = mapped_column(Integer, default=0)
    # waiting | reconciled | mismatch | manual | failed | paid_then_failed
    state: Mapped[str] = mapped_column(String(24))
    was_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    balance_transaction_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_payout_reconciliations_state", "state"),
        # The page lists payouts newest arrival first, a page at a time.
        Index("ix_payout_reconciliations_arrival_date", "arrival_date"),
    )


class BankDeposit(Base):
    """One line of an imported bank statement, of the Stripe account whose payouts it receives."""

    __tablename__ = "bank_deposits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The bank's transaction id when the statement has one, else date|amount|reference|n;
    # prefixed with the Stripe account for a connected account's statement.
    natural_key: Mapped[str] = mapped_column(String(320), unique=True)
    # "" is the platform; a connected account's statement names its acct_… id.
    account: Mapped[str] = mapped_column(String(64), default="", server_default="")
    bank_account: Mapped[str | None] = mapped_column(String(128))
    posted_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_bank_deposits_posted_on", "posted_on"),
        Index("ix_bank_deposits_account_posted_on", "account", "posted_on"),
    )


class Entitlement(Base):
    """Access as the product itself grants it (imported from the product's export)."""

    __tablename__ = "entitlements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    natural_key: Mapped[str] = mapped_column(String(320), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    plan: Mapped[str | None] = mapped_column(String(255))
    access_active: Mapped[bool] = mapped_column(Boolean)
    updated_on: Mapped[date | None] = mapped_column(Date)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_entitlements_stripe_customer_id", "stripe_customer_id"),)


class DriftSnapshot(Base):
    """The count of one drift check on one day, for trends."""

    __tablename__ = "drift_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    check: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("day", "check", name="uq_drift_snapshots_day_check"),)


class BooksReadModel(Base):
    """A precomputed page figure (lifecycle, tax for the period), refreshed by the books job."""

    __tablename__ = "books_read_models"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
