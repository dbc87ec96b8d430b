"""Connect: the platform's connected accounts, as `GET /v1/accounts` lists them.

Each connected account the sandbox serves (its own store, reached with `Stripe-Account`) also
has an `account` object in the platform's store, the way Stripe's platform sees it: a type
(standard, express or custom), a country and currency, whether charges and payouts are enabled,
and for a few, requirements still due (charges switched off until they are met). Listed newest
first with Stripe's cursors; a connected account asking for its own connected accounts gets an
empty list, as on Stripe. `POST /_sandbox/accounts/disconnect` (form param `account`)
disconnects one.
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.store import Account

COUNTRIES = (("US", "usd"), ("GB", "gbp"), ("DE", "eur"), ("FR", "eur"), ("CA", "cad"))
TYPES = ("express", "express", "standard", "custom")


def account_object(acct_id: str, seed: int, created: int, n: int) -> dict[str, Any]:
    """The platform's view of one connected account (fields of stripe-python's `Account`)."""
    rng = random.Random(seed)
    country, currency = COUNTRIES[n % len(COUNTRIES)]
    kind = TYPES[rng.randrange(len(TYPES))]
    restricted = n % 7 == 6  # a few still owe verification: no charges, no payouts
    due = ["individual.verification.document", "external_account"] if restricted else []
    name = f"Connected shop {n + 1}"
    return {
        "id": acct_id,
        "object": "account",
        "business_profile": {
            "mcc": "5734",
            "name": name,
            "support_email": f"support{n + 1}@shop.example",
            "url": f"https://shop{n + 1}.example",
        },
        "business_type": "company",
        "capabilities": {
            "card_payments": "inactive" if restricted else "active",
            "transfers": "inactive" if restricted else "active",
        },
        "charges_enabled": not restricted,
        "controller": {
            "type": "account" if kind == "standard" else "application",
            "is_controller": kind != "standard",
        },
        "country": country,
        "created": created,
        "default_currency": currency,
        "details_submitted": not restricted,
        "email": f"owner{n + 1}@shop.example",
        "metadata": {},
        "payouts_enabled": not restricted,
        "requirements": {
            "current_deadline": created + 30 * 86400 if restricted else None,
            "currently_due": due,
            "disabled_reason": "requirements.past_due" if restricted else None,
            "errors": [],
            "eventually_due": due,
            "past_due": due,
            "pending_verification": [],
        },
        "settings": {
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": "#3b5bdb",
                "secondary_color": None,
            },
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": True},
                "statement_descriptor_prefix": f"SHOP{n + 1}"[:10],
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": name, "timezone": "Etc/UTC"},
            "payments": {
                "statement_descriptor": f"SHOP{n + 1}.EXAMPLE"[:22],
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": kind != "custom",
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
        },
        "tos_acceptance": {"date": created},
        "type": kind,
    }


def is_connected(platform: Account, acct_id: str) -> bool:
    """False once the account was disconnected from the platform (see `disconnect`)."""
    return bool(platform.meta.get(acct_id, {}).get("connected", True))


def disconnect(platform: Account, account: Account) -> None:
    """The account leaves the platform (a Standard account revoking access, a rejection):
    it drops out of `GET /v1/accounts`, and a `Stripe-Account` header naming it is refused."""
    platform.meta.setdefault(account.id, {})["connected"] = False
    account.connected = False
