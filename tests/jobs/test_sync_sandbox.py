"""The sync against the sandbox over HTTP with the real stripe client, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.models.sync import StripeObject, SyncState
from core.reports.status import status_report
from core.sync.health import account_health
from jobs.runtime import Runtime, open_runtime
from jobs.sync import sync_all
from tests.conftest import settings_for
from tests.support.sandbox import SANDBOX_KEY, running_sandbox
from tests.support.sync import control, listable_events, route_count, stored_events


def runtime_for(url: str, sandbox_url: str, tmp_path: Path, **env: str) -> Runtime:
    env.setdefault("STRIPE_API_KEY", SANDBOX_KEY)
    env.setdefault("STRIPE_RATE_LIMIT", "500")
    settings = settings_for(
        url,
        tmp_path / "data",
        STRIPE_API_BASE=sandbox_url,
        LEDGERDESK_SANDBOX="1",
        **env,
    )
    return open_runtime(settings)


@pytest.fixture(scope="module")
def connect_sandbox() -> Any:
    with running_sandbox(customers=30, days=45, connected_accounts=1) as server:
        yield server


def test_full_sync_is_complete_and_an_idle_poll_costs_one_request(
    db_url: str, connect_sandbox: Any, tmp_path: Path
) -> None:
    connected = control(connect_sandbox.url, "accounts")["connected"]
    rt = runtime_for(db_url, connect_sandbox.url, tmp_path, STRIPE_ACCOUNTS=",".join(connected))
    first = sync_all(rt)
    assert [r.ok for r in first] == [True, True], [r.summary() for r in first]
    assert stored_events(rt.engine, "") == (listable_events(connect_sandbox.url),) * 2
    acct = connected[0]
    assert stored_events(rt.engine, acct) == (listable_events(connect_sandbox.url, acct),) * 2
    with rt.Session() as s:  # backfill + events gave snapshots of the objects themselves
        types = set(s.scalars(select(StripeObject.object_type).distinct()))
        assert {"customer", "invoice", "charge", "subscription", "payout"} <= types
        cursors = {
            st.account: st.cursor
            for st in s.scalars(select(SyncState).where(SyncState.stream == "events"))
        }
        assert cursors.keys() == {"", acct} and all(cursors.values())
    before = route_count(connect_sandbox.url)
    idle = sync_all(rt, only="platform")
    assert idle[0].ok and idle[0].requests == 1 and idle[0].events_new == 0
    assert route_count(connect_sandbox.url) - before == 1
    with rt.Session() as s:
        health = {a.account: a for a in account_health(s, rt.settings)}
        assert health[""].status == "ok" and health[acct].cursor == cursors[acct]
        assert "accounts" in status_report(s, rt.settings)


def test_revoked_key_stops_the_account_with_a_clear_message(sandbox: Any, tmp_path: Path) -> None:
    key = "sk_test_revokedkey1"
    control(sandbox.url, "keys/revoke", {"key": key})
    rt = runtime_for(f"sqlite:///{tmp_path / 'r.db'}", sandbox.url, tmp_path, STRIPE_API_KEY=key)
    report = sync_all(rt, backfill=False)[0]
    assert report.stopped and not report.ok and report.requests == 1
    assert "STRIPE_API_KEY" in (report.error or "")
    again = sync_all(rt, backfill=False)[0]
    assert again.skipped and again.requests == 0  # no retrying forever
    with rt.Session() as s:
        health = account_health(s, rt.settings)[0]
        assert health.status == "stopped" and "API key" in (health.last_error or "")


def test_faults_are_retried_and_the_sync_still_completes(db_url: str, tmp_path: Path) -> None:
    with running_sandbox(customers=25, days=35, fault_rate=0.2, hang_seconds=2.0) as server:
        rt = runtime_for(db_url, server.url, tmp_path)
        report = sync_all(rt, timeout=0.6)[0]
        assert report.ok, report.summary()
        control(server.url, "config", {"fault_rate": "0"})
        assert stored_events(rt.engine) == (listable_events(server.url),) * 2
        assert sum(control(server.url, "stats")["faults_injected"].values()) > 0
        with rt.Session() as s:  # which stream met the faults depends on the threads' order
            states = s.scalars(select(SyncState).where(SyncState.account == "")).all()
        assert {st.stream for st in states} == {"events", "backfill"}
        assert sum(st.retries for st in states) > 0
        # The walk meeting exactly two faults: both retried, both counted on its health.
        control(server.url, "config", {"fail_next": "2", "fault_kinds": "500"})
        again = sync_all(rt, timeout=0.6)[0]
        assert again.ok and again.retries == 2, again.summary()
        with rt.Session() as s:
            health = account_health(s, rt.settings)[0]
        assert health.retries > 0 and health.errors >= 2 and health.status == "ok"


def test_backfill_splits_busy_windows_and_stores_every_object_once(
    db_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import func

    from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
    from core.models.sync import BackfillShard
    from core.sync.backfill import Backfill
    from core.sync.backfill_lists import LISTS, expanded_objects
    from core.sync.ratelimit import PacedCaller

    # Each page takes 20 ms, as over a network: shards stay busy long enough for idle
    # workers to split them (a local sandbox answers before anyone is idle).
    with running_sandbox(customers=20, days=60, latency_ms=20) as server:
        rt = runtime_for(db_url, server.url, tmp_path)
        gateway = StripeGateway(make_client(rt.settings))
        # The windowed lists, tiny pages and few windows: idle workers must split running
        # shards to finish.
        lists = {name: spec for name, spec in LISTS.items() if spec.windowed}
        report = Backfill(
            rt.Session,
            PacedCaller(),
            lambda resource, params: list_page_raw(gateway, resource, params),
            concurrency=4,
            page_limit=1,
            lists=lists,
        ).run(since_days=90, windows=4)
        assert report.ok and report.shards_done == report.shards, report.summary()
        windowed = list(lists)
        assert report.shards > 4 * len(lists)  # work was stolen
        with rt.Session() as s:
            state = s.get(SyncState, ("", "backfill"))
            assert state is not None and state.cursor
            since, until = map(int, state.cursor.split(":"))
        # The same lists walked one page at a time, without windows: live objects whatever
        # their age, the rest within the backfill range, plus what Stripe expanded inside them.
        expected: set[str] = set()
        listed = 0
        for spec in lists.values():
            params: dict[str, Any] = {**spec.params, "limit": 100}
            while True:
                page = list_page_raw(gateway, spec.resource, params)
                data = [
                    o for o in page["data"] if not spec.windowed or since <= o["created"] < until
                ]
                listed += len(data)
                expected.update(o["id"] for o in expanded_objects(data))
                if not page["has_more"]:
                    break
                params["starting_after"] = page["data"][-1]["id"]
        with rt.Session() as s:
            stored = set(s.scalars(select(StripeObject.id)))
            shards = s.scalars(select(BackfillShard)).all()
            assert s.scalar(select(func.sum(BackfillShard.objects))) == listed
        assert stored == expected and report.objects == listed
        assert len(shards) == report.shards, (len(shards), report.shards)
        assert [(sh.resource, sh.window_start, sh.window_end) for sh in shards if not sh.done] == []
        # The windows of each windowed list still tile the backfill range without overlap.
        for resource in windowed:
            spans = sorted(
                (sh.window_start, sh.window_end) for sh in shards if sh.resource == resource
            )
            assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
