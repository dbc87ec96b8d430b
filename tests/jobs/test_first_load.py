"""A first start against an account with two years of history loads everything still live,
whatever its age; figures agree with the account itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
from core.books.lifecycle import LIVE_STATUSES, subscription_mrr
from core.models.sync import StripeObject, SyncState
from core.sync.health import first_load
from jobs.runtime import Runtime, open_runtime
from jobs.sync import sync_all
from tests.conftest import settings_for
from tests.support.sandbox import SANDBOX_KEY, running_sandbox


def _runtime(db_url: str, url: str, tmp_path: Path) -> Runtime:
    return open_runtime(
        settings_for(
            db_url,
            tmp_path / "data",
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=url,
            LEDGERDESK_SANDBOX="1",
            STRIPE_RATE_LIMIT="500",
        )
    )


def _listed(rt: Runtime, resource: str, **params: Any) -> list[dict[str, Any]]:
    """Every object of a list, walked page by page the plain way (the account's truth)."""
    gateway = StripeGateway(make_client(rt.settings))
    out: list[dict[str, Any]] = []
    query: dict[str, Any] = {**params, "limit": 100}
    while True:
        page = list_page_raw(gateway, resource, query)
        out += page["data"]
        if not page["has_more"]:
            return out
        query["starting_after"] = page["data"][-1]["id"]


def _stored(rt: Runtime, object_type: str) -> list[dict[str, Any]]:
    with rt.Session() as s:
        rows = s.scalars(select(StripeObject.data).where(StripeObject.object_type == object_type))
        return [dict(d) for d in rows]


def test_first_start_on_a_two_year_account_loads_every_live_object(
    db_url: str, tmp_path: Path
) -> None:
    with running_sandbox(customers=150, days=730) as server:
        rt = _runtime(db_url, server.url, tmp_path)
        with rt.Session() as s:
            assert not first_load(s, [""]).complete
        (report,) = sync_all(rt, timeout=5)
        assert report.ok, report.summary()
        with rt.Session() as s:
            assert first_load(s, [""]).complete
            state = s.get(SyncState, ("", "backfill"))
            assert state is not None and state.status == "done"

        customers = _listed(rt, "customers")
        subscriptions = _listed(rt, "subscriptions", status="all")
        open_invoices = _listed(rt, "invoices", status="open")
        # Most of the account is older than the 90-day window of the recent past.
        assert len(customers) == 150
        assert {c["id"] for c in _stored(rt, "customer")} == {c["id"] for c in customers}
        live = {s["id"] for s in subscriptions if s["status"] in LIVE_STATUSES}
        stored_subs = _stored(rt, "subscription")
        assert {s["id"] for s in stored_subs if s["status"] in LIVE_STATUSES} == live
        assert {i["id"] for i in open_invoices} <= {i["id"] for i in _stored(rt, "invoice")}
        # MRR from the store equals the account's own.
        assert sum(map(subscription_mrr, stored_subs)) == sum(map(subscription_mrr, subscriptions))
        assert sum(map(subscription_mrr, subscriptions)) > 0
