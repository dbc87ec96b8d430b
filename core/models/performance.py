"""Indexes for the hot lookups of event processing and the pages, declared outside the classes.

Two are expression indexes on the stored Stripe JSON: a customer's charges and invoices (dispute
evidence) and a charge's refunds. Queries must use the same expression (`data_customer(...)`,
`data_charge(...)`) so the planner can match the index: it renders the JSON path as a literal
(SQLite `json_extract(data, '$.customer')`, PostgreSQL `(data ->> 'customer')`), where the
generic `data["customer"].as_string()` would bind the path as a parameter that SQLite cannot
match against an index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from core.models.governance import AuditEntry
from core.models.recovery import RecoveryCase
from core.models.sync import Event, StripeObject


class _JsonText(FunctionElement[str]):
    """A top-level string field of a JSON column, with the key rendered as a literal."""

    type = String()
    inherit_cache = True
    json_key = ""


class data_customer(_JsonText):  # noqa: N801 - reads like the SQL function it renders
    """`data.customer` of a stored Stripe object as text."""

    name = "data_customer"
    inherit_cache = True
    json_key = "customer"


class data_charge(_JsonText):  # noqa: N801
    """`data.charge` of a stored Stripe object as text."""

    name = "data_charge"
    inherit_cache = True
    json_key = "charge"


class data_invoice(_JsonText):  # noqa: N801
    """`data.invoice` of a stored Stripe object as text (an invoice payment's invoice)."""

    name = "data_invoice"
    inherit_cache = True
    json_key = "invoice"


def _column(element: _JsonText, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    return str(compiler.process(column, **kw))


def _sqlite(element: _JsonText, compiler: Any, **kw: Any) -> str:
    return f"json_extract({_column(element, compiler, **kw)}, '$.{element.json_key}')"


def _postgresql(element: _JsonText, compiler: Any, **kw: Any) -> str:
    return f"({_column(element, compiler, **kw)} ->> '{element.json_key}')"


for _cls in (data_customer, data_charge, data_invoice):
    compiles(_cls)(_sqlite)
    compiles(_cls, "postgresql")(_postgresql)


STRIPE_OBJECT_INDEXES = (
    Index(
        "ix_stripe_objects_type_customer",
        StripeObject.object_type,
        data_customer(StripeObject.data),
    ),
    Index(
        "ix_stripe_objects_type_charge", StripeObject.object_type, data_charge(StripeObject.data)
    ),
    Index(
        "ix_stripe_objects_type_invoice",
        StripeObject.object_type,
        data_invoice(StripeObject.data),
    ),
)
# The processing queue claims pending events oldest first: walk this instead of sorting them all.
# Recovery linking reads "the newest event of these types about this object": with only single
# column indexes SQLite may pick the type index and scan every event of that type.
EVENT_INDEXES = (
    Index("ix_events_status_created_id", Event.status, Event.created, Event.id),
    Index("ix_events_object_id_type_created", Event.object_id, Event.type, Event.created),
)
RECOVERY_INDEXES = (
    Index("ix_recovery_cases_payment_intent_id", RecoveryCase.payment_intent_id),
    Index("ix_recovery_cases_charge_id", RecoveryCase.charge_id),
    # "Recovered this month" on the Overview: a range per status instead of every closed case.
    Index("ix_recovery_cases_status_closed_at", RecoveryCase.status, RecoveryCase.closed_at),
)
# The audit log page lists newest first per actor and fills its filter dropdowns from the
# distinct actors and actions: index-only walks instead of reading every entry's JSON.
AUDIT_INDEXES = (
    Index("ix_audit_log_actor_at", AuditEntry.actor, AuditEntry.at),
    Index("ix_audit_log_action", AuditEntry.action),
)
