"""Shipments from a CSV export (Shopify, ShipStation, a carrier): proof of delivery for disputes."""

from __future__ import annotations

from typing import Any

from core.imports.crm import CUSTOMER_ID_ALIASES
from core.imports.csv_import import Importer, stamped_upsert
from core.imports.csv_reader import CsvSchema, Field
from core.imports.csv_values import parse_customer_id, parse_datetime, parse_email
from core.models.disputes import ShipmentRecord


def parse_charge_id(raw: str) -> str:
    """A Stripe charge id (ch_... or py_...)."""
    if not raw.startswith(("ch_", "py_")):
        raise ValueError(f"{raw!r} is not a Stripe charge id (ch_...)")
    return raw


FIELDS = (
    Field(
        "carrier",
        ("Carrier", "Shipping carrier", "Courier", "Shipping company", "Service"),
        required=True,
    ),
    Field(
        "tracking_number",
        ("Tracking number", "Tracking", "Tracking code", "Tracking #", "Tracking ID", "AWB"),
        required=True,
    ),
    Field(
        "shipped_at",
        ("Shipped at", "Ship date", "Shipped", "Fulfilled at", "Date"),
        parse_datetime,
        required=True,
    ),
    Field("delivered_at", ("Delivered at", "Delivery date", "Delivered"), parse_datetime),
    Field("stripe_customer_id", CUSTOMER_ID_ALIASES, parse_customer_id),
    Field("email", ("Email", "Customer email", "Recipient email", "Buyer email"), parse_email),
    Field(
        "charge_id",
        ("Stripe charge", "Charge ID", "Stripe charge ID", "Payment reference"),
        parse_charge_id,
    ),
    Field("order_ref", ("Order", "Order ID", "Order number", "Name", "Reference")),
    Field("shipping_address", ("Shipping address", "Address", "Ship to", "Delivery address")),
)


def finish(record: dict[str, Any]) -> dict[str, Any]:
    """A parsed CSV record → a shipment_records row keyed by carrier and tracking number."""
    carrier = record["carrier"].strip()
    return {
        "natural_key": f"{carrier.lower()}|{record['tracking_number'].strip()}"[:400],
        "carrier": carrier[:64],
        "tracking_number": record["tracking_number"].strip()[:255],
        "shipped_at": record["shipped_at"],
        "delivered_at": record["delivered_at"],
        "stripe_customer_id": record["stripe_customer_id"],
        "email": record["email"],
        "charge_id": record["charge_id"],
        "order_ref": record["order_ref"],
        "shipping_address": record["shipping_address"],
    }


# Upsert a batch of shipments by carrier + tracking number.
apply = stamped_upsert(ShipmentRecord.__table__, "natural_key")


SHIPPING = Importer(
    name="shipping",
    title="Shipments",
    description="One row per shipment: carrier, tracking number, ship date, customer or Stripe charge.",
    schema=CsvSchema(
        name="shipments",
        fields=FIELDS,
        require_one_of=(("stripe_customer_id", "email", "charge_id"),),
        finish=finish,
        key=lambda row: row["natural_key"],
    ),
    apply=apply,
)
