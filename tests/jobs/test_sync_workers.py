"""Scale-out of the sync: several `jobs sync` workers share a Connect platform's accounts.

Real `python -m jobs sync` processes over one PostgreSQL, against the sandbox holding a
platform and connected accounts (read with the `Stripe-Account` header). Every account must be
synced once per SYNC_INTERVAL_SECONDS, never by two workers at once; a worker killed (SIGKILL)
while it holds an account leaves it to the others (at once on its own machine, where its pid is
known to be gone; elsewhere once its lease has expired).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.db import make_engine, migrate
from tests.support.cli import start_jobs
from tests.support.pg import ThrowawayPostgres
from tests.support.sandbox import SANDBOX_KEY, running_sandbox
from tests.support.sync import control, listable_events, stored_events

CONNECTED = 11  # twelve accounts with the platform
WORKERS = 3
INTERVAL = 6  # SYNC_INTERVAL_SECONDS: one round
LEASE = 1.0  # shorter than one account's sync: only the heartbeat keeps it
ROUNDS = 3  # full rounds watched after the kill


@pytest.fixture
def pg(pg_server: ThrowawayPostgres | None) -> ThrowawayPostgres:
    if pg_server is None:
        pytest.skip("no PostgreSQL server binaries installed (apt-get install postgresql)")
    return pg_server


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def held_by(url: str, pid: int) -> list[tuple[str, datetime]]:
    """(account, expiry) of the leases a worker process holds now."""
    return query(
        url,
        "select account, expires_at from account_leases "
        "where holder like %s and expires_at > clock_timestamp()",
        f"%:{pid}:%",
    )


def until(check: Callable[[], bool], what: str, limit: float = 120.0) -> None:
    """Poll `check` (a safety limit only: the test waits on progress)."""
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.01)


def runs(url: str) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each account's finished syncs, (started, finished), oldest first."""
    out: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for account, started, finished in query(
        url, "select account, started_at, finished_at from sync_runs order by started_at"
    ):
        out[account].append((started, finished))
    return out


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


def test_three_sync_workers_share_the_accounts_once_per_round_and_take_over_a_killed_one(
    pg: ThrowawayPostgres, tmp_path: Path
) -> None:
    url = pg.create_database()
    engine = make_engine(url)
    migrate(engine)
    # Every request takes 300 ms, as over a network: one account's sync outlasts its lease.
    with running_sandbox(customers=8, days=20, connected_accounts=CONNECTED, latency_ms=300) as sb:
        accounts = ["", *control(sb.url, "accounts")["connected"]]
        env = {
            "STRIPE_API_KEY": SANDBOX_KEY,
            "STRIPE_API_BASE": sb.url,
            "LEDGERDESK_SANDBOX": "1",
            "STRIPE_RATE_LIMIT": "500",
            "STRIPE_ACCOUNTS": ",".join(accounts[1:]),
            "SYNC_INTERVAL_SECONDS": str(INTERVAL),
        }
        command = ["sync", "--no-backfill", "--lease-seconds", str(LEASE)]
        victim = start_jobs(tmp_path, *command, database_url=url, **env)
        workers: list[subprocess.Popen[str]] = []
        holders: set[str] = set()
        try:
            until(lambda: bool(held_by(url, victim.pid)), "the victim's first lease")
            workers = [
                start_jobs(tmp_path, *command, database_url=url, **env) for _ in range(WORKERS)
            ]
            until(
                lambda: all(held_by(url, w.pid) for w in workers[:1]) and held_by(url, victim.pid),
                "a worker and the victim both holding accounts",
            )
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            ((orphan, expiry),) = query(
                url,
                "select account, expires_at from account_leases where holder like %s "
                "and expires_at > clock_timestamp()",
                f"%:{victim.pid}:%",
            )
            killed_at = query(url, "select clock_timestamp()")[0][0]

            def rounds_done() -> bool:
                for w in workers:
                    assert w.poll() is None, w.communicate()[1][-3000:]
                holders.update(h for (h,) in query(url, "select holder from account_leases") if h)
                done = runs(url)
                return all(sum(1 for s, _ in done[a] if s > killed_at) >= ROUNDS for a in accounts)

            until(rounds_done, "every account synced in three rounds after the kill")
        finally:
            stop([victim, *workers])
        assert victim.returncode == -signal.SIGKILL
        for w in workers:  # SIGTERM: stopped cleanly, handing their accounts back
            assert w.returncode == 130, w.stderr
        assert not query(
            url, "select account from account_leases where expires_at > clock_timestamp()"
        ), "a stopped worker kept its lease"
        pids = {w.pid for w in workers}
        assert {int(h.split(":")[1]) for h in holders} >= pids, "a worker got no account"

        done = runs(url)
        taken_over = [s for s, _ in done[orphan] if s > killed_at][0]
        # Same machine: taken over as soon as the victim was gone (its pid is checked), never
        # while it lived; other machines wait for the lease to expire (test_account_leases.py).
        assert killed_at <= taken_over, "the killed worker's account was taken while it lived"
        assert expiry is not None
        for account in accounts:
            history = done[account]
            for (s1, f1), (s2, _) in zip(history, history[1:], strict=False):
                assert s2 >= f1, f"{account or 'platform'}: two workers synced it at once"
                gap = (s2 - s1).total_seconds()
                assert gap >= INTERVAL - 0.5, f"{account or 'platform'}: synced twice in a round"
                if account != orphan:  # its one longer gap waited for the lease to expire
                    assert gap <= 2 * INTERVAL, f"{account or 'platform'}: missed a round"
            assert stored_events(engine, account) == (listable_events(sb.url, account or None),) * 2
    engine.dispose()
