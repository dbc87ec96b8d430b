"""The jobs that read what the sync stores wait for the first complete load, then run at once;
the others run from the start."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.models.sync import SyncState
from jobs.runtime import open_runtime
from jobs.scheduler import JobLanes
from tests.conftest import settings_for


def test_books_waits_for_the_first_load_then_runs_at_once(db_url: str, tmp_path: Path) -> None:
    rt = open_runtime(settings_for(db_url, tmp_path))
    ran: list[str] = []

    def job(name: str) -> Any:
        return lambda runtime: ran.append(name)

    lanes = JobLanes(rt)
    lanes.launch("books", job("books"))
    lanes.launch("sync", job("sync"))
    lanes.wait(timeout=5)
    assert ran == ["sync"] and set(lanes.deferred) == {"books"}
    lanes.release_deferred()
    lanes.wait(timeout=5)
    assert ran == ["sync"]  # still loading: nothing released
    with rt.Session.begin() as s:  # the first load finishes: events walked, backfill done
        s.add(SyncState(account="", stream="events", status="ok", cursor="evt_head"))
        s.add(SyncState(account="", stream="backfill", status="done"))
    deadline = time.monotonic() + 10
    while "books" not in ran and time.monotonic() < deadline:
        lanes.release_deferred()
        lanes.wait(timeout=1)
        time.sleep(0.2)
    assert ran == ["sync", "books"] and lanes.deferred == {}
