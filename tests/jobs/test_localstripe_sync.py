"""Against localstripe, a third-party Stripe fake that refuses `ending_before` and `created`,
lists events oldest first and lacks disputes and early fraud warnings: the first sync and later
polls store every event it lists, without a retry storm, and the health page says what the
server does not support."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.models.sync import Event, SyncRun, SyncState
from core.sync.health import account_health, first_load
from jobs.runtime import Runtime, open_runtime
from jobs.sync import sync_all
from tests.conftest import settings_for
from tests.support.localstripe import running_localstripe

KEY = "sk_test_localstripe"


def _post(base: str, path: str, data: dict[str, str]) -> dict[str, Any]:
    req = urllib.request.Request(
        base + path,
        data=urllib.parse.urlencode(data).encode(),
        headers={"Authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def _listed_event_ids(base: str) -> set[str]:
    """Every event localstripe lists, walked with `starting_after` alone."""
    ids: set[str] = set()
    after = ""
    while True:
        query = "limit=100" + (f"&starting_after={after}" if after else "")
        req = urllib.request.Request(
            f"{base}/v1/events?{query}", headers={"Authorization": f"Bearer {KEY}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            page = json.loads(resp.read())
        ids.update(e["id"] for e in page["data"])
        if not page["has_more"] or not page["data"]:
            return ids
        after = page["data"][-1]["id"]


def _stored_event_ids(rt: Runtime) -> set[str]:
    with rt.Session() as s:
        return set(s.scalars(select(Event.event_id)))


def test_localstripe_first_sync_and_later_polls_store_every_listed_event(
    db_url: str, tmp_path: Path
) -> None:
    with running_localstripe() as base:
        for n in range(7):
            _post(base, "/v1/customers", {"email": f"c{n}@example.com", "name": f"Customer {n}"})
        rt = open_runtime(
            settings_for(
                db_url,
                tmp_path / "data",
                STRIPE_API_KEY=KEY,
                STRIPE_API_BASE=base,
                STRIPE_RATE_LIMIT="50",
            )
        )
        started = time.monotonic()
        (first,) = sync_all(rt, timeout=5)
        assert first.ok, first.summary()
        listed = _listed_event_ids(base)
        assert len(listed) >= 7 and _stored_event_ids(rt) == listed
        for n in range(7, 12):
            _post(base, "/v1/customers", {"email": f"c{n}@example.com"})
        (later,) = sync_all(rt, timeout=5)
        (again,) = sync_all(rt, timeout=5)
        elapsed = time.monotonic() - started
        listed = _listed_event_ids(base)
        assert _stored_event_ids(rt) == listed and len(listed) >= 12
        assert later.ok and again.ok, (later.summary(), again.summary())
        # No retry storm: a refused parameter is never asked again, a missing list is skipped.
        assert later.retries == 0 and again.retries == 0
        assert later.requests <= 5 and again.requests <= 5, (later.requests, again.requests)
        assert elapsed < 90, elapsed
        with rt.Session() as s:
            assert first_load(s, [""]).complete
            back = s.get(SyncState, ("", "backfill"))
            assert back is not None and back.status in ("done", "partial")
            # A partial first load is not restarted by the next passes.
            runs = s.scalar(
                select(func.count()).select_from(SyncRun).where(SyncRun.stream == "backfill")
            )
            health = account_health(s, rt.settings)[0]
        assert runs == 1
        said = " ".join(health.unsupported)
        assert "ending_before" in said and "disputes" in said, health.unsupported
