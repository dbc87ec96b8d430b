"""Failed-payment recovery: cases, drafts, CRM and help-desk context.

Revision ID: 0004_recovery
Revises: 0003_governance
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004_recovery"
down_revision = "0003_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
