"""What a first load lists: live objects whatever their age, and the recent past by window;
the optional parameters a server may refuse; and the objects Stripe expands inside others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.sync.snapshots import RESOURCES as SNAPSHOT_RESOURCES


@dataclass(frozen=True)
class ListSpec:
    """One list the backfill walks: the client resource, its parameters, and whether it is
    sharded by `created` window (the recent past) or listed whole (live objects)."""

    resource: str
    params: dict[str, Any] = field(default_factory=dict)
    windowed: bool = True


LISTS: dict[str, ListSpec] = {
    # Live whatever their age.
    "customers": ListSpec(
        "customers", {"expand": ["data.invoice_settings.default_payment_method"]}, False
    ),
    "subscriptions": ListSpec(
        "subscriptions", {"status": "all", "expand": ["data.default_payment_method"]}, False
    ),
    "invoices.open": ListSpec("invoices", {"status": "open"}, False),
    "invoices.uncollectible": ListSpec("invoices", {"status": "uncollectible"}, False),
    "disputes": ListSpec("disputes", {"expand": ["data.charge"]}, False),
    "payouts.pending": ListSpec("payouts", {"status": "pending"}, False),
    "payouts.in_transit": ListSpec("payouts", {"status": "in_transit"}, False),
    # The recent past, by `created` window.
    "invoices": ListSpec("invoices"),
    # Which payment an invoice's attempt was (since 2025 an invoice names none itself): a
    # failed payment of the window opens its recovery case at once, without a fetch per invoice.
    "invoice_payments": ListSpec("invoice_payments"),
    "charges": ListSpec("charges"),
    "payment_intents": ListSpec("payment_intents"),
    "refunds": ListSpec("refunds"),
    "radar.early_fraud_warnings": ListSpec("radar.early_fraud_warnings"),
    "payouts": ListSpec("payouts"),
    "balance_transactions": ListSpec("balance_transactions"),
}
# Optional parameters a server may refuse, dropped in this order before giving a list up.
OPTIONAL_PARAMS = ("expand", "status", "created")
# Where Stripe puts an expanded object inside a listed one (stored as a snapshot of its own).
EXPANDED_PATHS: tuple[tuple[str, ...], ...] = (
    ("invoice_settings", "default_payment_method"),
    ("default_payment_method",),
    ("charge",),
)


def expanded_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects themselves plus every Stripe object expanded inside them (EXPANDED_PATHS)."""
    out = list(objects)
    for obj in objects:
        for path in EXPANDED_PATHS:
            value: Any = obj
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if (
                isinstance(value, dict)
                and isinstance(value.get("id"), str)
                and value.get("object") in SNAPSHOT_RESOURCES
            ):
                out.append(value)
    return out
