"""Books: journal entries, payouts vs bank deposits, drift, export batches.

Revision ID: 0006_books
Revises: 0005_disputes
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_books"
down_revision = "0005_disputes"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "journal_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("period_date", sa.Date(), nullable=True),
        sa.Column("payout_id", sa.String(255), nullable=True),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("total_debit", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("exported_at", TS, nullable=True),
        sa.Column("export_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal_batches"),
        sa.UniqueConstraint("key", name="uq_journal_batches_key"),
    )
    op.create_index(
        "ix_journal_batches_kind_period_date",
        "journal_batches",
        ["kind", "period_date"],
    )

    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reporting_category", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("exchange_rate", sa.Float(), nullable=True),
        sa.Column("original_currency", sa.String(3), nullable=True),
        sa.Column("original_amount", sa.BigInteger(), nullable=True),
        sa.Column("payout_id", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["journal_batches.id"],
            name="fk_journal_entries_batch_id_journal_batches",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_journal_entries"),
        sa.UniqueConstraint("batch_id", "source_id", name="uq_journal_entries_batch_id_source_id"),
    )
    op.create_index("ix_journal_entries_entry_date", "journal_entries", ["entry_date"])
    op.create_index("ix_journal_entries_source_id", "journal_entries", ["source_id"])

    op.create_table(
        "journal_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("account_code", sa.String(64), nullable=False),
        sa.Column("account_name", sa.String(255), nullable=False),
        sa.Column("debit", sa.BigInteger(), nullable=False),
        sa.Column("credit", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name="fk_journal_lines_entry_id_journal_entries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_journal_lines"),
    )
    op.create_index("ix_journal_lines_entry_id", "journal_lines", ["entry_id"])

    op.create_table(
        "journal_exports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("exported_at", TS, nullable=False),
        sa.Column("exported_by", sa.String(80), nullable=False),
        sa.Column("reexport", sa.Boolean(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["journal_batches.id"],
            name="fk_journal_exports_batch_id_journal_batches",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_journal_exports"),
    )
    op.create_index("ix_journal_exports_batch_id", "journal_exports", ["batch_id"])

    op.create_table(
        "payout_reconciliations",
        sa.Column("payout_id", sa.String(255), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("arrival_date", sa.Date(), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reconciliation_status", sa.String(32), nullable=True),
        sa.Column("trace_id", sa.String(255), nullable=True),
        sa.Column("gross", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("refunds", sa.BigInteger(), nullable=False),
        sa.Column("disputes", sa.BigInteger(), nullable=False),
        sa.Column("adjustments", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("difference", sa.BigInteger(), nullable=False),
        sa.Column("transaction_count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("was_paid", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("balance_transaction_ids", JSON, nullable=False),
        sa.Column("checked_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("payout_id", name="pk_payout_reconciliations"),
    )
    op.create_index("ix_payout_reconciliations_state", "payout_reconciliations", ["state"])

    op.create_table(
        "bank_deposits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("natural_key", sa.String(320), nullable=False),
        sa.Column("bank_account", sa.String(128), nullable=True),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bank_deposits"),
        sa.UniqueConstraint("natural_key", name="uq_bank_deposits_natural_key"),
    )
    op.create_index("ix_bank_deposits_posted_on", "bank_deposits", ["posted_on"])

    op.create_table(
        "entitlements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("natural_key", sa.String(320), nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("subscription_id", sa.String(255), nullable=True),
        sa.Column("plan", sa.String(255), nullable=True),
        sa.Column("access_active", sa.Boolean(), nullable=False),
        sa.Column("updated_on", sa.Date(), nullable=True),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entitlements"),
        sa.UniqueConstraint("natural_key", name="uq_entitlements_natural_key"),
    )
    op.create_index("ix_entitlements_stripe_customer_id", "entitlements", ["stripe_customer_id"])

    op.create_table(
        "drift_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("taken_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drift_snapshots"),
        sa.UniqueConstraint("day", "check", name="uq_drift_snapshots_day_check"),
    )
    op.create_index(
        "ix_payout_reconciliations_arrival_date", "payout_reconciliations", ["arrival_date"]
    )
    op.create_table(
        "books_read_models",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("taken_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_books_read_models"),
    )


def downgrade() -> None:
    op.drop_table("books_read_models")
    op.drop_index("ix_payout_reconciliations_arrival_date", table_name="payout_reconciliations")
    op.drop_table("drift_snapshots")
    op.drop_index("ix_entitlements_stripe_customer_id", table_name="entitlements")
    op.drop_table("entitlements")
    op.drop_index("ix_bank_deposits_posted_on", table_name="bank_deposits")
    op.drop_table("bank_deposits")
    op.drop_index("ix_payout_reconciliations_state", table_name="payout_reconciliations")
    op.drop_table("payout_reconciliations")
    op.drop_index("ix_journal_exports_batch_id", table_name="journal_exports")
    op.drop_table("journal_exports")
    op.drop_index("ix_journal_lines_entry_id", table_name="journal_lines")
    op.drop_table("journal_lines")
    op.drop_index("ix_journal_entries_source_id", table_name="journal_entries")
    op.drop_index("ix_journal_entries_entry_date", table_name="journal_entries")
    op.drop_table("journal_entries")
    op.drop_index("ix_journal_batches_kind_period_date", table_name="journal_batches")
    op.drop_table("journal_batches")
