"""Usage and access logs from a CSV export (product analytics, auth logs): proof of use for disputes."""

from __future__ import annotations

import hashlib
from typing import Any

from core.imports.crm import CUSTOMER_ID_ALIASES
from core.imports.csv_import import Importer, stamped_upsert
from core.imports.csv_reader import CsvSchema, Field
from core.imports.csv_values import parse_customer_id, parse_datetime, parse_email
from core.models.disputes import UsageRecord

FIELDS = (
    Field("stripe_customer_id", CUSTOMER_ID_ALIASES, parse_customer_id),
    Field("email", ("Email", "User email", "Account email", "Login", "Username"), parse_email),
    Field(
        "occurred_at",
        ("Timestamp", "Time", "Date", "Occurred at", "Event time", "Logged at", "Created"),
        parse_datetime,
        required=True,
    ),
    Field("activity", ("Event", "Action", "Activity", "Event name", "Type"), required=True),
    Field("ip_address", ("IP", "IP address", "Remote address", "Client IP", "Source IP")),
    Field("detail", ("Detail", "Details", "Description", "Path", "URL", "Resource", "User agent")),
)


def finish(record: dict[str, Any]) -> dict[str, Any]:
    """A parsed CSV record → a usage_records row with a natural key (same line → same row)."""
    who = record["stripe_customer_id"] or f"email:{record['email']}"
    raw = f"{who}|{record['occurred_at'].isoformat()}|{record['activity']}|{record['detail'] or ''}"
    return {
        "natural_key": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        "stripe_customer_id": record["stripe_customer_id"],
        "email": record["email"],
        "occurred_at": record["occurred_at"],
        "activity": record["activity"][:255],
        "ip_address": (record["ip_address"] or None) and record["ip_address"][:64],
        "detail": record["detail"],
    }


# Upsert a batch of usage lines by natural key.
apply = stamped_upsert(UsageRecord.__table__, "natural_key", ["imported_at", "ip_address"])


USAGE = Importer(
    name="usage",
    title="Usage / access log",
    description="One row per login, download or API call: customer (Stripe id or e-mail), time, event, IP.",
    schema=CsvSchema(
        name="usage log",
        fields=FIELDS,
        require_one_of=(("stripe_customer_id", "email"),),
        finish=finish,
        key=lambda row: row["natural_key"],
    ),
    apply=apply,
)
