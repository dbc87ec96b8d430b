"""Governance: users, action requests, approvals, audit log, outbox.

Revision ID: 0003_governance
Revises: 0002_sync
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003_governance"
down_revision = "0002_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
