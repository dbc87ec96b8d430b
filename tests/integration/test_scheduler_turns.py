"""The jobs that read the whole store take turns in the scheduler (their memory never adds up),
and none of them is skipped for it; the sync and the others run beside them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from core.models.sync import SyncState
from jobs.runtime import open_runtime
from jobs.schedule_plan import ONE_AT_A_TIME
from jobs.scheduler import JobLanes
from tests.conftest import settings_for


def test_store_heavy_jobs_take_turns_and_none_is_skipped(tmp_path: Path) -> None:
    rt = open_runtime(settings_for(f"sqlite:///{tmp_path / 'ld.db'}", tmp_path))
    with rt.Session.begin() as s:  # the first load is done: nothing waits for it
        s.add(SyncState(account="", stream="events", status="ok", cursor="evt_head"))
        s.add(SyncState(account="", stream="backfill", status="done"))
    spans: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()

    def job(name: str) -> Any:
        def run(runtime: Any) -> str:
            start = time.monotonic()
            time.sleep(0.4)
            with lock:
                spans[name] = (start, time.monotonic())
            return name

        return run

    heavy = ["books", "digest", "predunning", "read-models"]
    assert set(heavy) <= ONE_AT_A_TIME and "sync" not in ONE_AT_A_TIME
    lanes = JobLanes(rt)
    for name in [*heavy, "sync"]:  # all at once, as when the first load has just finished
        lanes.launch(name, job(name))
    lanes.wait(timeout=30)
    assert set(spans) == {*heavy, "sync"}  # every one ran: waiting, not skipped
    turns = sorted(spans[n] for n in heavy)
    for (_, end), (start, _) in zip(turns, turns[1:], strict=False):
        assert start >= end, "two store-heavy jobs ran at the same time"
    assert spans["sync"][0] < turns[0][1], "the sync waited for the heavy jobs"
