"""Help-desk tickets from a CSV export (Zendesk, Intercom, Freshdesk, Help Scout, Front)."""

from __future__ import annotations

from typing import Any

from core.imports.crm import CUSTOMER_ID_ALIASES
from core.imports.csv_import import Importer, stamped_upsert
from core.imports.csv_reader import CsvSchema, Field
from core.imports.csv_values import (
    normalise_tag,
    parse_customer_id,
    parse_datetime,
    parse_email,
    parse_tags,
)
from core.models.context import HelpdeskTicket

SCHEMA = CsvSchema(
    name="help-desk tickets",
    fields=(
        Field(
            "ticket_id",
            (
                "Ticket ID",
                "Id",
                "Conversation ID",
                "Ticket Number",
                "Case Number",
                "Number",
            ),
            required=True,
        ),
        Field("stripe_customer_id", CUSTOMER_ID_ALIASES, parse_customer_id),
        Field(
            "email",
            (
                "Requester email",
                "Customer email",
                "Contact email",
                "User email",
                "Email",
                "Requester",
                "From",
            ),
            parse_email,
        ),
        Field("status", ("Status", "State", "Ticket status"), required=True),
        Field(
            "subject",
            ("Subject", "Title", "Conversation title", "Summary"),
            required=True,
        ),
        Field(
            "created_at",
            (
                "Created",
                "Created at",
                "Created Date",
                "Date Created",
                "Conversation started at",
            ),
            parse_datetime,
            required=True,
        ),
        Field("tags", ("Tags", "Labels", "Category", "Type"), parse_tags),
        Field("priority", ("Priority", "Urgency", "Ticket priority")),
    ),
    require_one_of=(("stripe_customer_id", "email"),),
)


def _with_priority(tags: list[str], priority: str | None) -> list[str]:
    """The ticket's priority kept as a tag ("priority_high"), so rules can read it."""
    tag = normalise_tag(f"priority {priority}") if priority and priority.strip() else None
    return [*tags, tag] if tag and tag not in tags else tags


def finish(record: dict[str, Any]) -> dict[str, Any]:
    """A parsed CSV record → a helpdesk_tickets row."""
    return {
        "ticket_id": record["ticket_id"],
        "stripe_customer_id": record["stripe_customer_id"],
        "email": record["email"],
        "status": record["status"].strip().lower(),
        "subject": record["subject"][:2000],
        "tags": _with_priority(record["tags"] or [], record.get("priority")),
        "created_at": record["created_at"],
    }


# Upsert a batch of tickets by ticket id.
apply = stamped_upsert(HelpdeskTicket.__table__, "ticket_id")


TICKETS = Importer(
    name="tickets",
    title="Help-desk tickets",
    description="One row per ticket: ticket id, customer (Stripe id or e-mail), status, subject, created.",
    schema=CsvSchema(
        name=SCHEMA.name,
        fields=SCHEMA.fields,
        require_one_of=SCHEMA.require_one_of,
        finish=finish,
        key=lambda row: row["ticket_id"],
    ),
    apply=apply,
)
