"""A keyed audit trail: each entry says how its hash was made (1: plain SHA-256, the entries
written before the audit key existed; 2: HMAC-SHA256 with the audit key).

Revision ID: 0013_audit_keyed
Revises: 0011_books_accounts
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_audit_keyed"
down_revision = "0011_books_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(
            sa.Column("hash_version", sa.SmallInteger(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash_version")
