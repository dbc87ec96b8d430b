"""A complete first load: what the server refused, a back-off for a partial backfill, the
error of a list that still failed after its retries, and an index from an invoice to its
payments (the deterministic link between an invoice and its payment intent).

Revision ID: 0009_sync_first_load
Revises: 0008_scale_indexes
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009_sync_first_load"
down_revision = "0008_scale_indexes"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
# Must render exactly like core/models/performance.py's data_invoice.
_JSON_FIELD = {
    "sqlite": "json_extract(data, '$.invoice')",
    "postgresql": "(data ->> 'invoice')",
}


def upgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("unsupported", JSON, nullable=True))
        batch.add_column(sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("backfill_shards") as batch:
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    dialect = op.get_bind().dialect.name
    op.create_index(
        "ix_stripe_objects_type_invoice",
        "stripe_objects",
        [sa.column("object_type"), sa.text(_JSON_FIELD.get(dialect, _JSON_FIELD["sqlite"]))],
    )


def downgrade() -> None:
    op.drop_index("ix_stripe_objects_type_invoice", table_name="stripe_objects")
    with op.batch_alter_table("backfill_shards") as batch:
        batch.drop_column("error")
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("failures")
        batch.drop_column("retry_after")
        batch.drop_column("unsupported")
