"""CRM accounts from a CSV export (HubSpot, Salesforce, Pipedrive, Attio or a spreadsheet)."""

from __future__ import annotations

from typing import Any

from core.imports.csv_import import Importer, stamped_upsert
from core.imports.csv_reader import CsvSchema, Field
from core.imports.csv_values import (
    normalise_tag,
    parse_bool,
    parse_customer_id,
    parse_date,
    parse_email,
    parse_money,
    parse_tags,
)
from core.models.context import CrmAccount

CUSTOMER_ID_ALIASES = (
    "Stripe Customer ID",
    "stripe_customer",
    "stripe_id",
    "Stripe ID",
    "customer_id",
    "Customer ID",
    "Stripe Customer",
)
# Boolean columns some CRMs export per flag; a ticked box becomes a flag of the same name.
FLAG_COLUMNS = ("do_not_downgrade", "enterprise_handling", "pending_cancellation")

SCHEMA = CsvSchema(
    name="CRM accounts",
    fields=(
        Field("stripe_customer_id", CUSTOMER_ID_ALIASES, parse_customer_id),
        Field(
            "email",
            (
                "Email",
                "Email Address",
                "Primary Email",
                "Billing Email",
                "Contact Email",
                "E-mail",
            ),
            parse_email,
        ),
        Field(
            "name",
            (
                "Account Name",
                "Company name",
                "Company",
                "Organization",
                "Account",
                "Name",
            ),
        ),
        Field(
            "owner",
            (
                "Account Owner",
                "Owner",
                "Company owner",
                "HubSpot Owner",
                "Owner Name",
                "CSM",
            ),
        ),
        Field("segment", ("Segment", "Customer Segment", "Tier", "Account Type", "Type")),
        Field("arr", ("ARR", "Annual Recurring Revenue", "ARR (USD)"), parse_money),
        Field("mrr", ("MRR", "Monthly Recurring Revenue", "MRR (USD)"), parse_money),
        Field("currency", ("Currency", "Currency Code", "Account Currency")),
        Field(
            "renewal_date",
            ("Renewal Date", "Next Renewal", "Contract End Date", "Renewal"),
            parse_date,
        ),
        Field("flags", ("Flags", "Tags", "Labels"), parse_tags),
        Field("do_not_downgrade", ("Do not downgrade", "No Downgrade"), parse_bool),
        Field("enterprise_handling", ("Enterprise handling", "Enterprise"), parse_bool),
        Field(
            "pending_cancellation",
            ("Pending cancellation", "Cancellation pending"),
            parse_bool,
        ),
    ),
    require_one_of=(("stripe_customer_id", "email"),),
)


def finish(record: dict[str, Any]) -> dict[str, Any]:
    """A parsed CSV record → a crm_accounts row."""
    flags = list(dict.fromkeys(record["flags"] or []))
    for name in FLAG_COLUMNS:
        if record[name] and name not in flags:
            flags.append(name)
    currency = (record["currency"] or "").strip().lower() or None
    if currency is not None and len(currency) != 3:
        raise ValueError(f"currency {record['currency']!r} is not a 3-letter code such as USD")
    customer, email = record["stripe_customer_id"], record["email"]
    segment = record["segment"]
    return {
        "natural_key": customer or f"email:{email}",
        "stripe_customer_id": customer,
        "email": email,
        "name": record["name"],
        "owner": record["owner"],
        "segment": normalise_tag(segment) if segment else None,
        "arr": record["arr"],
        "mrr": record["mrr"],
        "currency": currency,
        "renewal_date": record["renewal_date"],
        "flags": flags,
    }


# Upsert a batch of accounts by natural key.
apply = stamped_upsert(CrmAccount.__table__, "natural_key")


CRM = Importer(
    name="crm",
    title="CRM accounts",
    description=(
        "One row per customer account: Stripe customer id or e-mail, account name, owner, "
        "segment, ARR/MRR, renewal date and flags (do not downgrade, enterprise handling, ...)."
    ),
    schema=CsvSchema(
        name=SCHEMA.name,
        fields=SCHEMA.fields,
        require_one_of=SCHEMA.require_one_of,
        finish=finish,
        key=lambda row: row["natural_key"],
    ),
    apply=apply,
)
