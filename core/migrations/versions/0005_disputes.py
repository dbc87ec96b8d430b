"""Dispute triage: dispute cases, reminders, evidence items, imported usage and shipments, packets.

Revision ID: 0005_disputes
Revises: 0004_recovery
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_disputes"
down_revision = "0004_recovery"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["case_id"],
        ["dispute_cases.id"],
        name=f"fk_{table}_case_id_dispute_cases",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "dispute_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispute_id", sa.String(255), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("charge_id", sa.String(255), nullable=True),
        sa.Column("payment_intent_id", sa.String(255), nullable=True),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("case_type", sa.String(32), nullable=False),
        sa.Column("network_reason_code", sa.String(32), nullable=True),
        sa.Column("due_by", sa.BigInteger(), nullable=True),
        sa.Column("has_evidence", sa.Boolean(), nullable=False),
        sa.Column("submission_count", sa.Integer(), nullable=False),
        sa.Column("is_charge_refundable", sa.Boolean(), nullable=False),
        sa.Column("stripe_created", sa.BigInteger(), nullable=False),
        sa.Column("source_created", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("amount_withdrawn", sa.BigInteger(), nullable=False),
        sa.Column("amount_reinstated", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("fee_reinstated", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(320), nullable=True),
        sa.Column("escalated_at", TS, nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_explanation", JSON, nullable=False),
        sa.Column("win_chance", sa.Float(), nullable=False),
        sa.Column("expected_value", sa.BigInteger(), nullable=True),
        sa.Column("recommendation", sa.String(16), nullable=True),
        sa.Column("recommendation_explanation", JSON, nullable=False),
        sa.Column("evidence_completeness", sa.Float(), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=True),
        sa.Column("policy_version", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_cases"),
        sa.UniqueConstraint("dispute_id", name="uq_dispute_cases_dispute_id"),
    )
    op.create_index("ix_dispute_cases_status_due_by", "dispute_cases", ["status", "due_by"])
    op.create_index("ix_dispute_cases_charge_id", "dispute_cases", ["charge_id"])
    op.create_index("ix_dispute_cases_customer_id", "dispute_cases", ["customer_id"])

    op.create_table(
        "dispute_reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.String(16), nullable=False),
        sa.Column("due_by", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_reminders"),
        _case_fk("dispute_reminders"),
        sa.UniqueConstraint("case_id", "threshold", name="uq_dispute_reminders_case_threshold"),
    )

    op.create_table(
        "dispute_evidence_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("file_id", sa.String(255), nullable=True),
        sa.Column("added_by", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_evidence_items"),
        _case_fk("dispute_evidence_items"),
    )
    op.create_index("ix_dispute_evidence_items_case_id", "dispute_evidence_items", ["case_id"])

    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("activity", sa.String(255), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_usage_records"),
        sa.UniqueConstraint("natural_key", name="uq_usage_records_natural_key"),
    )
    op.create_index("ix_usage_records_stripe_customer_id", "usage_records", ["stripe_customer_id"])
    op.create_index("ix_usage_records_email", "usage_records", ["email"])

    op.create_table(
        "shipment_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("charge_id", sa.String(255), nullable=True),
        sa.Column("order_ref", sa.String(255), nullable=True),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("tracking_number", sa.String(255), nullable=False),
        sa.Column("shipped_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("shipping_address", sa.Text(), nullable=True),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shipment_records"),
        sa.UniqueConstraint("natural_key", name="uq_shipment_records_natural_key"),
    )
    op.create_index(
        "ix_shipment_records_stripe_customer_id", "shipment_records", ["stripe_customer_id"]
    )
    op.create_index("ix_shipment_records_charge_id", "shipment_records", ["charge_id"])
    op.create_index("ix_shipment_records_email", "shipment_records", ["email"])

    op.create_table(
        "dispute_evidence_packets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("missing", JSON, nullable=False),
        sa.Column("text_chars", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("template_version", sa.String(32), nullable=False),
        sa.Column("model", sa.String(64), nullable=True),
        sa.Column("narrative", JSON, nullable=True),
        sa.Column("inputs_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("staged_at", TS, nullable=True),
        sa.Column("staged_by", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_evidence_packets"),
        _case_fk("dispute_evidence_packets"),
        sa.UniqueConstraint("case_id", "version", name="uq_dispute_evidence_packets_case_version"),
    )


def downgrade() -> None:
    op.drop_table("dispute_evidence_packets")
    for name in (
        "ix_shipment_records_email",
        "ix_shipment_records_charge_id",
        "ix_shipment_records_stripe_customer_id",
    ):
        op.drop_index(name, table_name="shipment_records")
    op.drop_table("shipment_records")
    op.drop_index("ix_usage_records_email", table_name="usage_records")
    op.drop_index("ix_usage_records_stripe_customer_id", table_name="usage_records")
    op.drop_table("usage_records")
    op.drop_index("ix_dispute_evidence_items_case_id", table_name="dispute_evidence_items")
    op.drop_table("dispute_evidence_items")
    op.drop_table("dispute_reminders")
    op.drop_index("ix_dispute_cases_customer_id", table_name="dispute_cases")
    op.drop_index("ix_dispute_cases_charge_id", table_name="dispute_cases")
    op.drop_index("ix_dispute_cases_status_due_by", table_name="dispute_cases")
    op.drop_table("dispute_cases")
