"""The backfill starts the lists it must walk whole (one page after the other, the run's critical
path) before the windows it can split, and windows never queue for the rate ahead of them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
from core.sync.backfill import Backfill
from core.sync.backfill_lists import LISTS
from core.sync.ratelimit import PacedCaller, TokenBucket
from tests.jobs.test_sync_sandbox import runtime_for
from tests.support.sandbox import running_sandbox


def test_whole_lists_are_asked_for_first(sqlite_url: str, tmp_path: Path) -> None:
    whole = [name for name, spec in LISTS.items() if not spec.windowed]
    with running_sandbox(customers=20, days=30, latency_ms=5) as server:
        rt = runtime_for(sqlite_url, server.url, tmp_path)
        gateway = StripeGateway(make_client(rt.settings))
        asked: list[bool] = []  # per request: did it carry a `created` window?
        lock = threading.Lock()

        def list_fn(resource: str, params: dict[str, Any]) -> dict[str, Any]:
            with lock:
                asked.append("created" in params)
            return list_page_raw(gateway, resource, params)

        report = Backfill(
            rt.Session,
            PacedCaller(TokenBucket(200, burst=1)),
            list_fn,
            concurrency=1,
            page_limit=100,
        ).run(since_days=30, windows=4)
        assert report.ok and report.shards_done == report.shards, report.summary()
    # One worker, so that the order asked is the order planned (with two, a thread descheduled
    # between taking a whole list and asking for it lets a window's page be recorded first):
    # the first requests are the whole lists' first pages.
    assert asked[: len(whole)] == [False] * len(whole), asked
    assert any(asked)
