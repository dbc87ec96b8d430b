"""SIGKILL the sync at random points, 20 times: afterwards every event is stored exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.db import make_engine
from tests.support.sandbox import SANDBOX_KEY, running_sandbox
from tests.support.sync import listable_events, stored_events

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_sigkill_at_random_points_loses_and_duplicates_nothing(db_url: str, tmp_path: Path) -> None:
    rng = random.Random(20)
    # Small enough that 20 kills stay quick, large enough (backfill, then a walk of ~1,000
    # events in pages of 100) that kills land mid-page, mid-group and between transactions.
    with running_sandbox(customers=25, days=40, latency_ms=8) as server:
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "LEDGERDESK_DATA_DIR": str(tmp_path),
            "STRIPE_API_KEY": SANDBOX_KEY,
            "STRIPE_API_BASE": server.url,
            "LEDGERDESK_SANDBOX": "1",
            "STRIPE_RATE_LIMIT": "400",
        }
        cmd = [sys.executable, "-m", "jobs", "sync", "--once", "--timeout", "5"]
        for _ in range(20):
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # The interpreter needs ~0.5 s to import the jobs before it sends its first request.
            time.sleep(rng.uniform(0.6, 1.25))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        final = subprocess.run(
            cmd,
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert final.returncode == 0, final.stderr
        engine = make_engine(db_url)
        try:
            rows, distinct = stored_events(engine)
        finally:
            engine.dispose()
        assert rows == distinct == listable_events(server.url)
