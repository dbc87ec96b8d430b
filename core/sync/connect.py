"""The accounts the desk syncs: the platform, and its connected accounts.

`STRIPE_ACCOUNTS` names connected accounts one by one. A Connect platform with hundreds or
thousands of them sets `STRIPE_ACCOUNTS=all` instead: the sync then lists the platform's
connected accounts (`GET /v1/accounts`, 100 a page, under the same rate limit as everything
else) at most every DISCOVER_EVERY seconds, and registers them in `account_leases`, where the
sync workers lease them one at a time. An account Stripe no longer lists (disconnected,
rejected) is dropped from the registry once no worker holds it; when the list cannot be read
(Stripe down, a key without the Connect permission), the accounts registered last time stay.
The pages read the same registry, so they show what the workers sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.models.sync import AccountLease

DISCOVER_EVERY = 600.0  # seconds between two listings of the platform's connected accounts
PAGE = 100

ListPage = Callable[[str, dict[str, Any]], dict[str, Any]]


def list_connected(list_page: ListPage, page_size: int = PAGE) -> list[str]:
    """Every connected account id the platform's `GET /v1/accounts` lists, sorted."""
    found: set[str] = set()
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": page_size}
        if after:
            params["starting_after"] = after
        page = list_page("accounts", params)
        data = [a for a in page.get("data") or [] if isinstance(a, dict)]
        found.update(str(a["id"]) for a in data if str(a.get("id", "")).startswith("acct_"))
        if not page.get("has_more") or not data:
            return sorted(found)
        after = str(data[-1]["id"])


def registered_accounts(session: Session) -> list[str]:
    """The connected accounts in the lease registry (the platform's row is ""), sorted."""
    return sorted(a for a in session.scalars(select(AccountLease.account)) if a)


def synced_accounts(session: Session, settings: Settings) -> list[str]:
    """The platform ("") and the connected accounts the desk syncs: those STRIPE_ACCOUNTS
    names, or with STRIPE_ACCOUNTS=all, those the sync found on its last listing."""
    if settings.connect_all:
        return ["", *registered_accounts(session)]
    return ["", *settings.stripe_accounts]


def describe(accounts: list[str], settings: Settings) -> str:
    """ "platform", "platform + acct_1, acct_2" or "platform + 2,314 connected accounts"."""
    connected = [a for a in accounts if a]
    if not connected:
        return (
            "platform + every connected account (none found yet)"
            if settings.connect_all
            else "platform"
        )
    if settings.connect_all or len(connected) > 5:
        return (
            f"platform + {len(connected):,} connected account{'s' if len(connected) != 1 else ''}"
        )
    return "platform + " + ", ".join(connected)
