"""SIGKILL the sync 20 times, each after a random number of its own requests to Stripe (so the
kills land mid-backfill and mid-walk, not before the first request): afterwards every event is
stored exactly once."""

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
from tests.support.sync import control, listable_events, route_count, stored_events

ROOT = Path(__file__).resolve().parents[2]


def _requests(url: str) -> int:
    """API requests the sandbox has served so far (every route)."""
    return sum(int(n) for n in control(url, "stats")["requests_by_route"].values())


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
        mid_run = mid_walk = 0
        for _ in range(20):
            before, walk_before = _requests(server.url), route_count(server.url)
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Killed by progress, not by the clock: after its n-th request to Stripe.
            n = rng.randint(1, 12)
            while proc.poll() is None and _requests(server.url) < before + n:
                time.sleep(0.005)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                mid_run += 1
                mid_walk += route_count(server.url) > walk_before
            proc.wait()
        # Most kills landed while the sync was talking to Stripe, some during the event walk.
        assert mid_run >= 15 and mid_walk >= 3, (mid_run, mid_walk)
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
