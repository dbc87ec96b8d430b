"""Failed-payment recovery: cases, drafts, CRM and help-desk context.

Revision ID: 0004_recovery
Revises: 0003_governance
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_recovery"
down_revision = "0003_governance"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crm_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("natural_key", sa.String(320), nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("segment", sa.String(64), nullable=True),
        sa.Column("arr", sa.BigInteger(), nullable=True),
        sa.Column("mrr", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("flags", JSON, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_crm_accounts"),
        sa.UniqueConstraint("natural_key", name="uq_crm_accounts_natural_key"),
    )
    for col in ("stripe_customer_id", "email", "owner", "segment"):
        op.create_index(f"ix_crm_accounts_{col}", "crm_accounts", [col])

    op.create_table(
        "helpdesk_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(255), nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_helpdesk_tickets"),
        sa.UniqueConstraint("ticket_id", name="uq_helpdesk_tickets_ticket_id"),
    )
    for col in ("stripe_customer_id", "email"):
        op.create_index(f"ix_helpdesk_tickets_{col}", "helpdesk_tickets", [col])

    op.create_table(
        "recovery_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.String(255), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("customer_email", sa.String(320), nullable=True),
        sa.Column("customer_name", sa.String(255), nullable=True),
        sa.Column("subscription_id", sa.String(255), nullable=True),
        sa.Column("payment_intent_id", sa.String(255), nullable=True),
        sa.Column("charge_id", sa.String(255), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        sa.Column("amount_remaining", sa.BigInteger(), nullable=False),
        sa.Column("hosted_invoice_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("raw_code", sa.String(64), nullable=True),
        sa.Column("decline", JSON, nullable=False),
        sa.Column("high_risk", sa.Boolean(), nullable=False),
        sa.Column("risk_signals", JSON, nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_payment_attempt", sa.BigInteger(), nullable=True),
        sa.Column("first_failed_at", sa.BigInteger(), nullable=False),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("segment", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("customer_value", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("recommended_action", sa.String(64), nullable=False),
        sa.Column("tone", sa.String(32), nullable=False),
        sa.Column("in_grace_period", sa.Boolean(), nullable=False),
        sa.Column("missing_context", JSON, nullable=False),
        sa.Column("rule_hits", JSON, nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=True),
        sa.Column("closed_reason", sa.String(64), nullable=True),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("recovered_amount", sa.BigInteger(), nullable=True),
        sa.Column("seconds_to_recover", sa.BigInteger(), nullable=True),
        sa.Column("last_message_attempt", sa.Integer(), nullable=True),
        sa.Column("last_message_at", TS, nullable=True),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_cases"),
        sa.UniqueConstraint("invoice_id", name="uq_recovery_cases_invoice_id"),
    )
    op.create_index("ix_recovery_cases_status_priority", "recovery_cases", ["status", "priority"])
    for col in ("bucket", "customer_id", "subscription_id", "first_failed_at"):
        op.create_index(f"ix_recovery_cases_{col}", "recovery_cases", [col])

    op.create_table(
        "recovery_timeline",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_timeline"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name="fk_recovery_timeline_case_id_recovery_cases",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "case_id", "source_key", name="uq_recovery_timeline_case_id_source_key"
        ),
    )

    op.create_table(
        "recovery_drafts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("subscription_id", sa.String(255), nullable=True),
        sa.Column("to_email", sa.String(320), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("template_id", sa.String(128), nullable=False),
        sa.Column("template_version", sa.String(32), nullable=False),
        sa.Column("tone", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("inputs_hash", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("guard", sa.String(255), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_micro_usd", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("action_request_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("edited_by", sa.String(255), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_drafts"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name="fk_recovery_drafts_case_id_recovery_cases",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("inputs_hash", name="uq_recovery_drafts_inputs_hash"),
    )
    op.create_index("ix_recovery_drafts_case_id_status", "recovery_drafts", ["case_id", "status"])
    op.create_index("ix_recovery_drafts_kind_status", "recovery_drafts", ["kind", "status"])


def downgrade() -> None:
    op.drop_index("ix_recovery_drafts_kind_status", table_name="recovery_drafts")
    op.drop_index("ix_recovery_drafts_case_id_status", table_name="recovery_drafts")
    op.drop_table("recovery_drafts")
    op.drop_table("recovery_timeline")
    for col in ("first_failed_at", "subscription_id", "customer_id", "bucket"):
        op.drop_index(f"ix_recovery_cases_{col}", table_name="recovery_cases")
    op.drop_index("ix_recovery_cases_status_priority", table_name="recovery_cases")
    op.drop_table("recovery_cases")
    for col in ("email", "stripe_customer_id"):
        op.drop_index(f"ix_helpdesk_tickets_{col}", table_name="helpdesk_tickets")
    op.drop_table("helpdesk_tickets")
    for col in ("segment", "owner", "email", "stripe_customer_id"):
        op.drop_index(f"ix_crm_accounts_{col}", table_name="crm_accounts")
    op.drop_table("crm_accounts")
