"""Drop ix_events_account_created: no query reads events by account and time (the health page
counts an hour's events per account through ix_events_received_at), and every event marked
processed rewrote an entry in it.

Revision ID: 0019_drop_events_account_index
Revises: 0018_account_leases
"""

from alembic import op

revision = "0019_drop_events_account_index"
down_revision = "0018_account_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_account_created", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_account_created", "events", ["account", "created"])
