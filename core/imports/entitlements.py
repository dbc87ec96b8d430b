"""Entitlements: who has access, as the product itself says (its own CSV export)."""

from __future__ import annotations

from typing import Any

from core.imports.csv_import import Importer, stamped_upsert
from core.imports.csv_reader import CsvSchema, Field
from core.imports.csv_values import parse_customer_id, parse_date, parse_email
from core.models.books import Entitlement

_ON = {
    "active",
    "enabled",
    "granted",
    "on",
    "true",
    "yes",
    "1",
    "y",
    "paid",
    "trialing",
    "trial",
}
_OFF = {"revoked", "disabled", "suspended", "inactive", "off", "false", "no", "0", "n", "none",
        "canceled", "cancelled", "expired", "locked"}  # fmt: skip


def parse_access(raw: str) -> bool:
    """active / enabled / true → True; revoked / disabled / false → False."""
    value = raw.strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{raw!r} is not an access state (active / revoked)")


FIELDS = (
    Field(
        "stripe_customer_id",
        ("Stripe Customer ID", "stripe_customer", "Customer ID", "customer"),
        parse_customer_id,
    ),
    Field("email", ("Email", "User Email", "Account Email"), parse_email),
    Field("subscription_id", ("Subscription ID", "stripe_subscription", "Subscription")),
    Field("plan", ("Plan", "Tier", "Product", "Package")),
    Field(
        "access",
        ("Access", "Access Active", "Status", "Entitlement Status", "Enabled"),
        parse_access,
        required=True,
    ),
    Field(
        "updated_on",
        ("Updated At", "Updated", "Last Changed", "Changed On"),
        parse_date,
    ),
)


def finish(record: dict[str, Any]) -> dict[str, Any]:
    """A parsed record → an entitlements row."""
    customer, email, sub = (
        record["stripe_customer_id"],
        record["email"],
        record["subscription_id"],
    )
    if sub and not str(sub).startswith("sub_"):
        raise ValueError(f"subscription {sub!r} is not a Stripe subscription id (sub_...)")
    return {
        "natural_key": f"{customer or 'email:' + str(email)}|{sub or record['plan'] or ''}"[:320],
        "stripe_customer_id": customer,
        "email": email,
        "subscription_id": sub,
        "plan": record["plan"],
        "access_active": record["access"],
        "updated_on": record["updated_on"],
    }


# Upsert a batch of entitlement rows by natural key.
apply = stamped_upsert(Entitlement.__table__, "natural_key")


ENTITLEMENTS = Importer(
    name="entitlements",
    title="Entitlements",
    description=(
        "One row per customer (or subscription) from the product's own export: Stripe customer "
        "id or e-mail, subscription id, plan and whether access is active or revoked."
    ),
    schema=CsvSchema(
        name="entitlements",
        fields=FIELDS,
        require_one_of=(("stripe_customer_id", "email"),),
        finish=finish,
        key=lambda row: row["natural_key"],
    ),
    apply=apply,
)
