"""STRIPE_ACCOUNTS=all: the sync lists the platform's connected accounts and syncs each.

Against the sandbox over HTTP with the real stripe client (its `GET /v1/accounts` follows
stripe-python's `Account`), on SQLite and PostgreSQL: every listed account is registered and
synced, the listing pages with Stripe's cursors, a disconnected account is dropped at the next
listing, and a listing that fails keeps the accounts found before.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
from core.config import load_settings
from core.errors import ConfigError
from core.sync.connect import DISCOVER_EVERY, list_connected, registered_accounts
from core.sync.health import account_health
from jobs.sync import accounts_of, discover, sync_all
from tests.jobs.test_sync_sandbox import runtime_for
from tests.support.sandbox import running_sandbox
from tests.support.sync import control

CONNECTED = 7


@pytest.fixture(scope="module")
def platform() -> Any:
    with running_sandbox(customers=8, days=20, connected_accounts=CONNECTED) as server:
        yield server


_LATER = [0.0]


def _relist(rt: Any) -> list[str]:
    """Discover as a worker would once DISCOVER_EVERY has passed since its last listing."""
    _LATER[0] += 2 * DISCOVER_EVERY
    return discover(rt, now=time.monotonic() + _LATER[0])


def test_the_listing_walks_every_page(platform: Any, tmp_path: Path) -> None:
    settings = load_settings(
        {"STRIPE_API_KEY": "sk_test_sandbox", "STRIPE_API_BASE": platform.url},
        secrets_file=tmp_path / "none.toml",
    )
    gateway = StripeGateway(make_client(settings), None)
    pages: list[dict[str, Any]] = []

    def page(resource: str, params: dict[str, Any]) -> dict[str, Any]:
        pages.append(dict(params))
        return list_page_raw(gateway, resource, params)

    found = list_connected(page, page_size=3)
    assert found == sorted(control(platform.url, "accounts")["connected"])
    assert len(pages) == 3 and "starting_after" not in pages[0]
    assert all(p["limit"] == 3 and p["starting_after"].startswith("acct_") for p in pages[1:])


def test_all_syncs_every_connected_account_and_drops_a_disconnected_one(
    db_url: str, tmp_path: Path
) -> None:
    with running_sandbox(customers=8, days=20, connected_accounts=CONNECTED) as platform:
        _syncs_all_and_drops_disconnected(db_url, platform, tmp_path)


def _syncs_all_and_drops_disconnected(db_url: str, platform: Any, tmp_path: Path) -> None:
    connected = sorted(control(platform.url, "accounts")["connected"])
    assert len(connected) == CONNECTED
    rt = runtime_for(db_url, platform.url, tmp_path, STRIPE_ACCOUNTS="all")
    assert _relist(rt) == ["", *connected]
    reports = sync_all(rt, backfill=False)
    assert sorted(r.account for r in reports) == ["", *connected]
    assert all(r.ok and r.events_new > 0 for r in reports), [r.summary() for r in reports]
    with rt.Session() as s:
        assert registered_accounts(s) == connected
        assert [h.account for h in account_health(s, rt.settings)] == ["", *connected]

    gone = connected[2]
    control(platform.url, "accounts/disconnect", {"account": gone})
    assert gone not in _relist(rt)
    again = sync_all(rt, backfill=False)
    assert sorted(r.account for r in again) == ["", *(a for a in connected if a != gone)]
    with rt.Session() as s:
        assert gone not in registered_accounts(s)
    with pytest.raises(ConfigError, match="not a connected account of this platform"):
        accounts_of(rt, gone)


def test_a_failed_listing_keeps_the_accounts_found_before(
    db_url: str, platform: Any, tmp_path: Path
) -> None:
    rt = runtime_for(db_url, platform.url, tmp_path, STRIPE_ACCOUNTS="all")
    before = _relist(rt)
    assert len(before) > 1
    control(platform.url, "config", {"fault_rate": "1", "fault_kinds": "500"})
    try:
        assert _relist(rt) == before
    finally:
        control(platform.url, "config", {"fault_rate": "0"})
