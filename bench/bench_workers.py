"""Scale-out: `jobs process` workers sharing one PostgreSQL, 1, 2 and 4 of them.

The same stored backlog (tests/support/recovery.failure_backlog: failed payments opening
recovery cases, payments closing half of them, events no handler wants) is copied into a fresh
database per run; N real `python -m jobs process` processes drain it. Figures: events per
second from the first event processed to the last (worker start-up excluded; the wall time
with it is given too), the speed-up over one worker, and the load average.
BENCH_WORKERS_INVOICES sets the backlog size (default 300 invoices, about 1,200 events).

Then `jobs sync` workers sharing a Connect platform's accounts: 16 listed in STRIPE_ACCOUNTS,
and BENCH_CONNECT_ACCOUNTS (default 200) found by the workers themselves (STRIPE_ACCOUNTS=all).
Needs the PostgreSQL server binaries (as the test suite does).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from core.config import ensure_audit_key, load_settings
from core.db import make_engine, make_sessionmaker, migrate
from core.sync.ingest import ingest_events
from tests.support.pg import ThrowawayPostgres, find_pg_bin
from tests.support.recovery import failure_backlog

ROOT = Path(__file__).resolve().parents[1]
COUNTS = (1, 2, 4)


def _conninfo(pg: ThrowawayPostgres, db: str = "postgres") -> str:
    return f"host=127.0.0.1 port={pg.port} user=postgres dbname={db}"


def _copy(pg: ThrowawayPostgres, source: str) -> str:
    name = "b_" + uuid.uuid4().hex[:12]
    with psycopg.connect(_conninfo(pg), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return name


def _left(pg: ThrowawayPostgres, db: str) -> int:
    with psycopg.connect(_conninfo(pg, db)) as conn:
        row = conn.execute("select count(*) from events where status <> 'processed'").fetchone()
    return int(row[0]) if row else 0


def _drain(pg: ThrowawayPostgres, db: str, folder: Path, workers: int) -> dict[str, float]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/{db}",
        "LEDGERDESK_DATA_DIR": str(folder),
        "SYNC_INTERVAL_SECONDS": "1",
    }
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "jobs", "process", "--limit", "100"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        total = _left(pg, db)
        while (left := _left(pg, db)) == total:  # the workers start (imports, connections)
            time.sleep(0.02)
        first, at_first = time.perf_counter(), total - left
        while _left(pg, db):
            time.sleep(0.02)
        end = time.perf_counter()
        return {
            "seconds_with_start": round(end - started, 2),
            "seconds_processing": round(end - first, 2),
            "events_per_s": round((total - at_first) / (end - first), 1),
        }
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)


def run() -> dict[str, Any]:
    """Drain the same backlog with 1, 2 and 4 workers; events per second and speed-up."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        return {"skipped": "no PostgreSQL server binaries installed"}
    invoices = int(os.environ.get("BENCH_WORKERS_INVOICES", "300"))
    events = failure_backlog(invoices)
    pg = ThrowawayPostgres(bin_dir)
    pg.start()
    folder = Path(tempfile.mkdtemp(prefix="ledgerdesk-bench-workers-"))
    figures: dict[str, Any] = {"events": len(events), "cpus": os.cpu_count()}
    try:
        url = pg.create_database()
        settings = ensure_audit_key(
            load_settings(
                {"DATABASE_URL": url, "LEDGERDESK_DATA_DIR": str(folder)},
                secrets_file=Path("/nonexistent"),
            )
        )
        engine = make_engine(url)
        migrate(engine)
        with make_sessionmaker(engine, settings.audit_key).begin() as session:
            ingest_events(session, events, source="poll")
        engine.dispose()
        template = url.rsplit("/", 1)[1]
        base = None
        for n in COUNTS:
            run_figures = _drain(pg, _copy(pg, template), folder, n)
            base = base or run_figures["events_per_s"]
            run_figures["speedup_vs_1"] = round(run_figures["events_per_s"] / base, 2)
            figures[f"workers_{n}"] = run_figures
        figures["load_average_1min"] = round(os.getloadavg()[0], 2)
        figures["sync"] = _sync_scaling(pg, folder)
        figures["load_average_1min_after_sync"] = round(os.getloadavg()[0], 2)
        many = int(os.environ.get("BENCH_CONNECT_ACCOUNTS", "200"))
        figures["sync_connect_all"] = _sync_scaling(pg, folder, accounts=many, discover=True)
        figures["load_average_1min_after_connect"] = round(os.getloadavg()[0], 2)
    finally:
        pg.stop()
    return figures


SYNC_ACCOUNTS = 16  # the platform and 15 connected accounts
SYNC_LATENCY_MS = 100


def _sync_scaling(
    pg: ThrowawayPostgres, folder: Path, accounts: int = SYNC_ACCOUNTS, discover: bool = False
) -> dict[str, Any]:
    """`jobs sync` workers sharing a Connect platform's accounts through their leases: the
    time from the first account claimed to the last one's first sync finished (start-up
    excluded), every request 100 ms away as over a network, for 1, 2 and 4 workers. With
    `discover`, the accounts are not configured: STRIPE_ACCOUNTS=all, each worker lists them."""
    from tests.support.sandbox import SANDBOX_KEY, running_sandbox
    from tests.support.sync import control

    out: dict[str, Any] = {
        "accounts": accounts,
        "latency_ms": SYNC_LATENCY_MS,
        "accounts_setting": "all" if discover else "listed",
    }
    with running_sandbox(
        customers=8, days=20, connected_accounts=accounts - 1, latency_ms=SYNC_LATENCY_MS
    ) as sandbox:
        connected = control(sandbox.url, "accounts")["connected"]
        base = None
        for n in COUNTS:
            url = pg.create_database()
            engine = make_engine(url)
            migrate(engine)
            engine.dispose()
            db = url.rsplit("/", 1)[1]
            env = {
                "PATH": os.environ.get("PATH", ""),
                "DATABASE_URL": url,
                "LEDGERDESK_DATA_DIR": str(folder),
                "STRIPE_API_KEY": SANDBOX_KEY,
                "STRIPE_API_BASE": sandbox.url,
                "LEDGERDESK_SANDBOX": "1",
                "STRIPE_RATE_LIMIT": "500",
                "STRIPE_ACCOUNTS": "all" if discover else ",".join(connected),
                "SYNC_INTERVAL_SECONDS": "3600",
            }
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "jobs", "sync", "--no-backfill"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(n)
            ]
            try:
                while _synced(pg, db) < accounts:
                    time.sleep(0.05)
            finally:
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                for p in procs:
                    p.wait(timeout=30)
            with psycopg.connect(_conninfo(pg, db)) as conn:
                row = conn.execute(
                    "select extract(epoch from max(finished_at) - min(started_at)), "
                    "count(distinct holder) from account_leases"
                ).fetchone()
            seconds = float(row[0]) if row else 0.0
            base = base or seconds
            out[f"workers_{n}"] = {
                "seconds": round(seconds, 2),
                "accounts_per_s": round(accounts / seconds, 2),
                "workers_that_held_accounts": int(row[1]) if row else 0,
                "speedup_vs_1": round(base / seconds, 2),
            }
    return out


def _synced(pg: ThrowawayPostgres, db: str) -> int:
    try:
        with psycopg.connect(_conninfo(pg, db)) as conn:
            row = conn.execute(
                "select count(*) from account_leases where finished_at is not null"
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0
