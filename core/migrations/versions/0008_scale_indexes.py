"""Indexes for a large account: leaner on `events`, where each index costs every ingested event.

`ix_events_object_id` duplicated the leading column of `ix_events_object_id_type_created`, so it
only cost inserts. `ix_events_type` becomes `(type, created)`: the Overview counts today's failed
payments and weekly failure volume by type and time, which the single-column index answered by
reading every event of that type. Recovered-this-month reads recovery cases by status and close
time.

Revision ID: 0008_scale_indexes
Revises: 0007_performance
"""

from alembic import op

revision = "0008_scale_indexes"
down_revision = "0007_performance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_object_id", table_name="events")
    op.drop_index("ix_events_type", table_name="events")
    op.create_index("ix_events_type_created", "events", ["type", "created"])
    op.create_index("ix_recovery_cases_status_closed_at", "recovery_cases", ["status", "closed_at"])


def downgrade() -> None:
    op.drop_index("ix_recovery_cases_status_closed_at", table_name="recovery_cases")
    op.drop_index("ix_events_type_created", table_name="events")
    op.create_index("ix_events_type", "events", ["type"])
    op.create_index("ix_events_object_id", "events", ["object_id"])
