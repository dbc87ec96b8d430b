"""One open request per need, under races too: action_requests.open_key is "<type>:<target>" while
a joining request is open and NULL once it ends, with a unique index. Requests already open keep
NULL (the service still joins them by status); new ones carry the key.

Revision ID: 0015_action_open_key
Revises: 0014_sign_in_failures
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_action_open_key"
down_revision = "0014_sign_in_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_requests") as batch:
        batch.add_column(sa.Column("open_key", sa.String(255), nullable=True))
    op.create_index("uq_action_requests_open_key", "action_requests", ["open_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_action_requests_open_key", table_name="action_requests")
    with op.batch_alter_table("action_requests") as batch:
        batch.drop_column("open_key")
