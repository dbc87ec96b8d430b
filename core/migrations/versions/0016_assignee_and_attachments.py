"""Less toil: who works a recovery case (assigned from the desk, apart from the CRM owner), and
files attached to outbox e-mails (the digest's reports).

Revision ID: 0016_assignee_and_attachments
Revises: 0015_action_open_key
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_assignee_and_attachments"
down_revision = "0015_action_open_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recovery_cases") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(255), nullable=True))
    op.create_table(
        "outbox_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name="fk_outbox_attachments_message_id_outbox_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_attachments"),
    )
    op.create_index("ix_outbox_attachments_message_id", "outbox_attachments", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_attachments_message_id", table_name="outbox_attachments")
    op.drop_table("outbox_attachments")
    with op.batch_alter_table("recovery_cases") as batch:
        batch.drop_column("assigned_to")
