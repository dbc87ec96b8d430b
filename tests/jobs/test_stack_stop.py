"""`python -m jobs up` stops everything it started when it alone is sent SIGTERM (`kill PID`)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.support.stack import _group_alive, running_stack


def test_sigterm_to_jobs_up_alone_stops_sandbox_scheduler_and_dashboard(tmp_path: Path) -> None:
    with running_stack(tmp_path / "stack", customers=50) as stack:
        leader = stack.process.pid  # also the process group id (its own session)
        os.kill(leader, signal.SIGTERM)  # to `jobs up` only, as `kill PID` does
        assert stack.process.wait(timeout=30) == 0  # reaped: a zombie leader keeps the group
        deadline = time.monotonic() + 15
        while _group_alive(leader) and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = _group_alive(leader)
        if alive:  # name the survivors before the fixture's teardown kills them
            survivors = os.popen(f"ps -o pid,args -g {leader}").read()
        assert not alive, f"still running after SIGTERM to `jobs up`:\n{survivors}"
        assert "stopping" in stack.log()
