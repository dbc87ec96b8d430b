"""Dispute triage: dispute cases, reminders, evidence items, imported usage and shipments, packets.

Revision ID: 0005_disputes
Revises: 0004_recovery
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0005_disputes"
down_revision = "0004_recovery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
