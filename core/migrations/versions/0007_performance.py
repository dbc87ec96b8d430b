"""Performance: expression indexes on stored Stripe JSON, lookups for recovery and the audit log.

Revision ID: 0007_performance
Revises: 0006_books
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_performance"
down_revision = "0006_books"
branch_labels = None
depends_on = None

# Must render exactly like core/models/performance.py's data_customer / data_charge.
_JSON_FIELD = {
    "sqlite": "json_extract(data, '$.{key}')",
    "postgresql": "(data ->> '{key}')",
}


def _json_field(key: str) -> sa.TextClause:
    dialect = op.get_bind().dialect.name
    return sa.text(_JSON_FIELD.get(dialect, _JSON_FIELD["sqlite"]).format(key=key))


def upgrade() -> None:
    op.create_index(
        "ix_stripe_objects_type_customer",
        "stripe_objects",
        [sa.column("object_type"), _json_field("customer")],
    )
    op.create_index(
        "ix_stripe_objects_type_charge",
        "stripe_objects",
        [sa.column("object_type"), _json_field("charge")],
    )
    op.create_index("ix_events_status_created_id", "events", ["status", "created", "id"])
    op.create_index("ix_events_object_id_type_created", "events", ["object_id", "type", "created"])
    op.create_index("ix_recovery_cases_payment_intent_id", "recovery_cases", ["payment_intent_id"])
    op.create_index("ix_recovery_cases_charge_id", "recovery_cases", ["charge_id"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_at", table_name="audit_log")
    op.drop_index("ix_recovery_cases_charge_id", table_name="recovery_cases")
    op.drop_index("ix_recovery_cases_payment_intent_id", table_name="recovery_cases")
    op.drop_index("ix_stripe_objects_type_charge", table_name="stripe_objects")
    op.drop_index("ix_stripe_objects_type_customer", table_name="stripe_objects")
    op.drop_index("ix_events_object_id_type_created", table_name="events")
    op.drop_index("ix_events_status_created_id", table_name="events")
