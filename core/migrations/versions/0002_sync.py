"""Sync engine: run history, webhook rejects, backfill shards, snapshot refreshes, job leases.

Revision ID: 0002_sync
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_sync"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("errors", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_sweep_at", TS, nullable=True))
        batch.add_column(sa.Column("stopped_key", sa.String(16), nullable=True))
        batch.add_column(sa.Column("walk_head", sa.String(255), nullable=True))
        batch.add_column(sa.Column("walk_cursor", sa.String(255), nullable=True))
    op.create_index("ix_events_received_at", "events", ["received_at"])

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(32), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("events_new", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("lag_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
    )
    op.create_index("ix_sync_runs_account_started_at", "sync_runs", ["account", "started_at"])

    op.create_table(
        "webhook_rejects",
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_at", TS, nullable=False),
        sa.Column("last_detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("reason", name="pk_webhook_rejects"),
    )

    op.create_table(
        "backfill_shards",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.String(255), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_backfill_shards"),
        sa.UniqueConstraint(
            "account",
            "resource",
            "window_start",
            "window_end",
            name="uq_backfill_shards_window",
        ),
    )

    op.create_table(
        "snapshot_refresh",
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("object_id", name="pk_snapshot_refresh"),
    )

    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_job_leases"),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
    op.drop_table("snapshot_refresh")
    op.drop_table("backfill_shards")
    op.drop_table("webhook_rejects")
    op.drop_index("ix_sync_runs_account_started_at", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_index("ix_events_received_at", table_name="events")
    with op.batch_alter_table("sync_state") as batch:
        for name in (
            "walk_cursor",
            "walk_head",
            "stopped_key",
            "last_sweep_at",
            "errors",
        ):
            batch.drop_column(name)
