"""Foundation: the synced Stripe store (events, object snapshots, sync state).

Revision ID: 0001_foundation
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("api_version", sa.String(40), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("processed_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    )
    op.create_index("ix_events_status_next_attempt_at", "events", ["status", "next_attempt_at"])
    op.create_index("ix_events_account_created", "events", ["account", "created"])
    op.create_index("ix_events_object_id", "events", ["object_id"])
    op.create_index("ix_events_type", "events", ["type"])

    op.create_table(
        "stripe_objects",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("source_created", sa.BigInteger(), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stripe_objects"),
    )
    op.create_index(
        "ix_stripe_objects_account_object_type", "stripe_objects", ["account", "object_type"]
    )

    op.create_table(
        "sync_state",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(32), nullable=False),
        sa.Column("cursor", sa.String(255), nullable=True),
        sa.Column("last_created", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_success_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("events_received", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("retries", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "stream", name="pk_sync_state"),
    )


def downgrade() -> None:
    op.drop_table("sync_state")
    op.drop_index("ix_stripe_objects_account_object_type", table_name="stripe_objects")
    op.drop_table("stripe_objects")
    for name in (
        "ix_events_type",
        "ix_events_object_id",
        "ix_events_account_created",
        "ix_events_status_next_attempt_at",
    ):
        op.drop_index(name, table_name="events")
    op.drop_table("events")
