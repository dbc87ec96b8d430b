"""Commands in another terminal find a running `make run` desk with no settings of their own:
`python -m jobs up` leaves <data dir>/run.json (no secret in it) and removes it when it stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.config import RUN_FILE_NAME
from core.models.sync import Event
from tests.support.stack import ROOT, running_stack


def _jobs(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Nothing but PATH and where the data lives (the default when `make run` ran without it).
    env = {"PATH": os.environ.get("PATH", ""), "LEDGERDESK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "jobs", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_status_and_execute_find_the_running_desk(tmp_path: Path) -> None:
    data = tmp_path / "stack"
    run_file = data / RUN_FILE_NAME
    with running_stack(data, customers=50) as stack:
        info = json.loads(run_file.read_text(encoding="utf-8"))
        assert info["url"] == stack.url and info["sandbox_url"] == stack.sandbox_url
        assert info["pid"] == stack.process.pid
        assert "sk_" not in run_file.read_text() and "key" not in info  # no secret in it

        def synced() -> dict[str, Any] | None:
            result = _jobs(data, "status", "--json")
            assert "Traceback" not in result.stderr, result.stderr
            report = json.loads(result.stdout) if result.stdout else {}
            platform = (report.get("accounts") or [{}])[0]
            return (
                report if platform.get("status") == "ok" and report["queue"]["processed"] else None
            )

        report = stack.wait_for("the desk's first sync, seen by `status`", synced, timeout=240)
        with stack.session() as session:  # the very database the desk writes
            events = session.scalar(select(func.count()).select_from(Event))
        assert 0 < report["queue"]["processed"] <= events
        text = _jobs(data, "status")
        assert text.stdout.startswith("platform: OK"), text.stdout + text.stderr
        assert "disputes: open " in text.stdout and "{" not in text.stdout  # words, not JSON
        # A command that talks to Stripe reaches the desk's sandbox with the desk's test key.
        executed = _jobs(data, "execute", "--once", "--json")
        assert executed.returncode == 0, executed.stderr
        assert json.loads(executed.stdout) == []
        # A second `make run` on the same data folder says so instead of fighting over ports.
        second = _jobs(data, "up")
        assert second.returncode == 2 and "already running" in second.stderr, second.stderr
    assert not run_file.exists()  # gone with the desk
    alone = _jobs(data, "execute", "--once")
    assert alone.returncode == 2 and "STRIPE_API_KEY is not set" in alone.stderr
