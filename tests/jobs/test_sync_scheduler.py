"""The scheduler: runs sync and process, holds its lock, and shares SQLite with a reader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.db import make_engine, make_sessionmaker
from core.sync.health import account_health, queue_health, sync_history
from jobs.scheduler import current_holder
from tests.conftest import settings_for
from tests.support.sandbox import SANDBOX_KEY

ROOT = Path(__file__).resolve().parents[2]


def _scheduler_env(url: str, sandbox_url: str, folder: Path) -> dict[str, str]:
    """The environment of a scheduler on `url` syncing the sandbox every second."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "LEDGERDESK_DATA_DIR": str(folder),
        "STRIPE_API_KEY": SANDBOX_KEY,
        "STRIPE_API_BASE": sandbox_url,
        "LEDGERDESK_SANDBOX": "1",
        "STRIPE_RATE_LIMIT": "500",
        "SYNC_INTERVAL_SECONDS": "1",
    }


@pytest.mark.timeout(120)
def test_one_scheduler_at_a_time_and_a_reader_never_sees_locked(
    sandbox: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ld.db'}"
    env = _scheduler_env(url, sandbox.url, tmp_path)
    cmd = [sys.executable, "-m", "jobs", "scheduler"]
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        engine = make_engine(url)
        Session = make_sessionmaker(engine)
        settings = settings_for(url, tmp_path)
        deadline = time.time() + 60
        reads = 0
        while time.time() < deadline:  # the dashboard's queries, as fast as it can, meanwhile
            try:
                with Session() as s:
                    runs = sync_history(s)
                    account_health(s, settings)
                    queue_health(s)
                reads += 1
            except Exception as exc:  # noqa: BLE001 - before the first migration there is no table
                assert "locked" not in str(exc)
                time.sleep(0.05)
                continue
            if len([r for r in runs if r.ok]) >= 3:
                break
        assert len([r for r in runs if r.ok]) >= 3 and reads > 3
        second = subprocess.run(
            cmd + ["--once"],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2 and "Another scheduler is already running" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=30)
    assert "job=sync ok" in err and "job=process ok" in err
    assert "database is locked" not in err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_scheduler_stops_on_a_signal_even_started_with_sigint_ignored(
    sandbox: Any, tmp_path: Path, signum: int
) -> None:
    """A shell script's background job starts with SIGINT ignored; docker and systemd stop with
    SIGTERM. Either way the scheduler stops at once and gives its lease back."""
    url = f"sqlite:///{tmp_path / 'ld.db'}"
    env = _scheduler_env(url, sandbox.url, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs", "scheduler"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # running: its first sync has finished
            if "job=sync ok" in line:
                break
        proc.send_signal(signum)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    engine = make_engine(url)
    Session = make_sessionmaker(engine)  # noqa: N806 - the factory's usual name
    assert current_holder(Session) is None  # the lease was given back, not left to expire
    engine.dispose()
