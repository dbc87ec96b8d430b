"""Books: journal entries, payouts vs bank deposits, drift, export batches.

Revision ID: 0006_books
Revises: 0005_disputes
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0006_books"
down_revision = "0005_disputes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
