"""A first start walks the event window beside the backfill, both under one rate limit: the
walk's chain of pages no longer waits for the backfill to end, the server never answers 429,
and every event and every live object is stored once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from core.db import make_engine
from core.models.sync import StripeObject, SyncState
from jobs.runtime import open_runtime
from jobs.sync import sync_all
from tests.conftest import settings_for
from tests.support.sandbox import SANDBOX_KEY, running_sandbox
from tests.support.sync import control, listable_events, stored_events

RATE = 20


def test_the_event_walk_runs_beside_the_backfill_under_one_limit(
    db_url: str, tmp_path: Path
) -> None:
    with running_sandbox(customers=150, days=90, latency_ms=20, rate_limit=RATE) as server:
        rt = open_runtime(
            settings_for(
                db_url,
                tmp_path,
                STRIPE_API_KEY=SANDBOX_KEY,
                STRIPE_API_BASE=server.url,
                LEDGERDESK_SANDBOX="1",
                STRIPE_RATE_LIMIT=str(RATE),
            )
        )
        (report,) = sync_all(rt, timeout=5)
        assert report.ok and report.walked, report.summary()
        log = control(server.url, "requests?limit=100000")["requests"]
        pages = [(n, r["path"]) for n, r in enumerate(log) if r["params"].get("limit") == "100"]
        walk = [n for n, path in pages if path == "/v1/events"]
        lists = [n for n, path in pages if path != "/v1/events"]
        # Walk pages went out while the backfill was still listing, not after it.
        assert len(walk) >= 3 and len(lists) >= 20 and walk[2] < lists[-10], (walk, lists)
        assert control(server.url, "stats")["rate_limited_429"] == 0
        with rt.Session() as s:
            back = s.get(SyncState, ("", "backfill"))
            assert back is not None and back.status == "done"
            customers = s.scalar(
                select(func.count())
                .select_from(StripeObject)
                .where(StripeObject.object_type == "customer")
            )
        assert customers == 150
        engine = make_engine(db_url)
        try:
            rows, distinct = stored_events(engine)
        finally:
            engine.dispose()
        assert rows == distinct == listable_events(server.url)
