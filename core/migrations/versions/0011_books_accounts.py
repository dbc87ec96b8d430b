"""Bank deposits per Stripe account: each connected account has its own bank statement.

Existing statement lines belong to the platform (""), which is what they were matched against
before, together with every other account's payouts.

Revision ID: 0011_books_accounts
Revises: 0009_sync_first_load
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_books_accounts"
down_revision = "0009_sync_first_load"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_deposits") as batch:
        batch.add_column(sa.Column("account", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_bank_deposits_account_posted_on", "bank_deposits", ["account", "posted_on"])


def downgrade() -> None:
    op.drop_index("ix_bank_deposits_account_posted_on", table_name="bank_deposits")
    with op.batch_alter_table("bank_deposits") as batch:
        batch.drop_column("account")
