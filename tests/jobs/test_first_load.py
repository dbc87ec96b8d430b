"""A first start against an account with two years of history loads everything still live,
whatever its age; figures agree with the account itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.books.lifecycle import LIVE_STATUSES, subscription_mrr
from core.models.sync import StripeObject, SyncState
from core.sync.health import first_load
from jobs.runtime import Runtime
from jobs.sync import sync_all
from tests.support.sandbox import running_sandbox
from tests.support.sync import list_all, sandbox_runtime


def _stored(rt: Runtime, object_type: str) -> list[dict[str, Any]]:
    with rt.Session() as s:
        rows = s.scalars(select(StripeObject.data).where(StripeObject.object_type == object_type))
        return [dict(d) for d in rows]


def test_first_start_on_a_two_year_account_loads_every_live_object(
    db_url: str, tmp_path: Path
) -> None:
    with running_sandbox(customers=150, days=730) as server:
        rt = sandbox_runtime(db_url, server.url, tmp_path / "data")
        with rt.Session() as s:
            assert not first_load(s, [""]).complete
        (report,) = sync_all(rt, timeout=5)
        assert report.ok, report.summary()
        with rt.Session() as s:
            assert first_load(s, [""]).complete
            state = s.get(SyncState, ("", "backfill"))
            assert state is not None and state.status == "done"

        gateway = StripeGateway(make_client(rt.settings))
        customers = list_all(gateway, "customers")
        subscriptions = list_all(gateway, "subscriptions", status="all")
        open_invoices = list_all(gateway, "invoices", status="open")
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
