"""Accounts leased per sync worker: one row per Stripe account, its holder and lease expiry.

Revision ID: 0018_account_leases
Revises: 0017_ai_usage_and_briefs
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_account_leases"
down_revision = "0017_ai_usage_and_briefs"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "account_leases",
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(255), nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("account", name="pk_account_leases"),
    )


def downgrade() -> None:
    op.drop_table("account_leases")
