"""Event processing on a real account's own event stream, beside the bare-insert floor.

A sandbox account (BENCH_ACCOUNT_CUSTOMERS customers, default 2,000, with BENCH_ACCOUNT_DAYS of
history, default 90) is loaded by the desk's first load over HTTP (`jobs sync` on an empty
store: the backfill's objects, then the 30-day event window), once into SQLite and once into
PostgreSQL. Its events are then processed by `process_batch` until the queue is empty: their
own mix (failed invoices whose payment intents, charges and invoice payments the first load
stored, disputes, payouts, subscription changes, payments), not a synthetic stream whose ids
lead nowhere.

Beside it, in the same run and on the same database server, the floor of bench_processing.py:
one raw-driver `executemany` INSERT of the same stored events (best of its tries). Printed per
dialect: events/s, events per CPU-second, processing time as a multiple of the floor, the
outcomes (processed / retrying / dead; retrying counts events whose handler raised, e.g. an
object the store does not hold), failures that opened or updated a recovery case, and the
PostgreSQL / SQLite ratio. Each dialect runs in a process of its own (the sandbox runs here),
so its CPU figure is the desk's alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 500
MAX_POLLS = 200  # refresh polls after the first pass, until nothing is left retrying
# How far the processing clock moves per refresh poll: past the longest retry backoff
# (core.sync.processing.MAX_DELAY_SECONDS, one hour).
POLL_STEP = timedelta(hours=2)


def _settings(url: str, folder: str, api_base: str) -> Any:
    from core.config import load_settings

    env = {
        "DATABASE_URL": url,
        "LEDGERDESK_DATA_DIR": folder,
        "STRIPE_API_KEY": "sk_test_sandbox",
        "STRIPE_API_BASE": api_base,
        "LEDGERDESK_SANDBOX": "1",
    }
    return load_settings(env, secrets_file=Path("/nonexistent"))


def _drain(runtime: Any, now: Any = None) -> dict[str, Any]:
    """Process every due event (due by `now`), timed; the outcomes summed over the batches."""
    import gc

    from core.sync.processing import load_handler_modules, process_batch

    load_handler_modules()
    gc.collect()
    totals = {"processed": 0, "retrying": 0, "dead": 0, "batches": 0}
    wall, cpu = time.perf_counter(), time.process_time()
    while True:
        report = process_batch(runtime.Session, limit=BATCH, settings=runtime.settings, now=now)
        if not report.claimed:
            break
        totals["batches"] += 1
        for key in ("processed", "retrying", "dead"):
            totals[key] += getattr(report, key)
        if report.processed == 0 and report.claimed == report.retrying + report.dead:
            break  # only retries left: they are due later
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, **totals}


def _stored(runtime: Any) -> tuple[list[dict[str, Any]], dict[str, int], int]:
    """The stored events (as Stripe sent them), the count of each type, and the objects."""
    from sqlalchemy import func, select

    from core.models.sync import Event, StripeObject

    with runtime.Session() as s:
        payloads = [dict(p) for p in s.scalars(select(Event.payload).order_by(Event.id))]
        objects = int(s.scalar(select(func.count()).select_from(StripeObject)) or 0)
    return payloads, dict(Counter(p.get("type") for p in payloads)), objects


def _queued(runtime: Any) -> int:
    """Objects still queued for a fresh read (the first load's ambiguous snapshots come first)."""
    from sqlalchemy import func, select

    from core.models.sync import SnapshotRefresh

    with runtime.Session() as s:
        return int(s.scalar(select(func.count()).select_from(SnapshotRefresh)) or 0)


def _why_retrying(runtime: Any) -> dict[str, int]:
    """The events left failed, by type and first line of their error."""
    from sqlalchemy import select

    from core.models.sync import Event

    with runtime.Session() as s:
        rows = s.execute(
            select(Event.type, Event.last_error).where(Event.status.in_(("failed", "dead")))
        ).all()
    ids = re.compile(r"\b[a-z]{2,4}_[A-Za-z0-9]{8,}\b")
    return dict(
        Counter(f"{t}: {ids.sub('<id>', (err or '').splitlines()[0])[:110]}" for t, err in rows)
    )


def child(url: str, floor_url: str, api_base: str) -> dict[str, Any]:
    """Own process: first load into the store at `url`, the floor, then the timed drain."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import func, select

    from bench.bench_processing import _floor
    from core.models.recovery import RecoveryCase, RecoveryTimelineEntry
    from jobs.runtime import open_runtime
    from jobs.sync import sync_all

    folder = tempfile.mkdtemp(prefix="ledgerdesk-bench-acct-")
    rt = open_runtime(_settings(url, folder, api_base))
    try:
        t0 = time.perf_counter()
        (report,) = sync_all(rt, timeout=60)
        load_s = time.perf_counter() - t0
        events, types, objects = _stored(rt)
        floor, floor_cpu = _floor(floor_url, events)
        res = _drain(rt)
        why = _why_retrying(rt) if res["retrying"] + res["dead"] else {}
        second: dict[str, Any] = {}
        left = res["retrying"]
        clock = datetime.now(UTC)
        while left and second.get("polls", 0) < MAX_POLLS:
            # What the queue asked the sync to fetch (a failed invoice's payments, at most
            # snapshots.PER_POLL a poll) comes with the next poll; then the retried events are
            # processed, on a clock moved past every retry's backoff (a retry is due at the
            # `now` of the pass that failed it plus its backoff: a clock that stood still, or
            # moved by less, would leave them not due and look stuck). Only the processing is
            # timed.
            clock = max(clock, datetime.now(UTC)) + POLL_STEP
            t1 = time.perf_counter()
            sync_all(rt, timeout=60, force=True)
            more = _drain(rt, now=clock)
            second["polls"] = second.get("polls", 0) + 1
            second["sync_s"] = second.get("sync_s", 0.0) + time.perf_counter() - t1 - more["wall"]
            for key in ("wall", "cpu", "processed"):
                second[key] = second.get(key, 0) + more[key]
            second["retrying"], second["dead"] = more["retrying"], more["dead"]
            second["queued"] = _queued(rt)
            if not more["processed"] and more["retrying"] >= left and not second["queued"]:
                break  # nothing left to fetch: what is left stays failed
            left = more["retrying"]
        with rt.Session() as s:
            cases = int(s.scalar(select(func.count()).select_from(RecoveryCase)) or 0)
            failed_attempts = int(
                s.scalar(
                    select(func.count())
                    .select_from(RecoveryTimelineEntry)
                    .where(RecoveryTimelineEntry.kind == "attempt_failed")
                )
                or 0
            )
        return {
            "first_load_s": round(load_s, 1),
            "first_load_ok": report.ok,
            "objects": objects,
            "events": len(events),
            "types": types,
            "floor_wall": floor,
            "floor_cpu": floor_cpu,
            "cases": cases,
            "failed_attempts": failed_attempts,
            "why_retrying": why,
            "after_refresh": second,
            "left_failed": _why_retrying(rt) if second else {},
            **res,
        }
    finally:
        rt.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _run_child(url: str, floor_url: str, api_base: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "child", url, floor_url, api_base],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _figures(res: dict[str, Any]) -> dict[str, Any]:
    """The headline counts both passes (what the account's events cost to process in all)."""
    n, more = res["events"], res["after_refresh"]
    wall, cpu = res["wall"] + more.get("wall", 0.0), res["cpu"] + more.get("cpu", 0.0)
    out = {
        "events_per_s": round(n / wall),
        "events_per_cpu_s": round(n / cpu),
        "floor_events_per_s": round(n / res["floor_wall"]),
        "vs_floor": f"{wall / res['floor_wall']:.1f}x",
        "vs_floor_cpu": f"{cpu / res['floor_cpu']:.1f}x",
        "first_pass": f"{res['wall']:.2f} s ({res['cpu']:.2f} CPU-s): processed={res['processed']} "
        f"retrying={res['retrying']} dead={res['dead']}",
        "recovery": f"{res['cases']} cases from {res['failed_attempts']} failed attempts",
        "first_load_s": res["first_load_s"],
    }
    if res["why_retrying"]:
        out["why_retrying"] = res["why_retrying"]
    if more:
        out["after_refresh_polls"] = (
            f"{more['wall']:.2f} s ({more['cpu']:.2f} CPU-s): processed={more['processed']} "
            f"retrying={more['retrying']} dead={more['dead']} "
            f"({more['polls']} polls, {more['sync_s']:.1f} s syncing, {more['queued']} still queued)"
        )
    if res["left_failed"]:
        out["left_failed"] = res["left_failed"]
    return out


def run() -> dict[str, Any]:
    """Processing figures on a sandbox account's own events, SQLite and PostgreSQL."""
    sys.path.insert(0, str(ROOT))
    from sandbox.server import SandboxConfig, SandboxServer
    from tests.support.pg import ThrowawayPostgres, find_pg_bin

    customers = int(os.environ.get("BENCH_ACCOUNT_CUSTOMERS", "2000"))
    days = int(os.environ.get("BENCH_ACCOUNT_DAYS", "90"))
    folder = Path(tempfile.mkdtemp(prefix="ledgerdesk-bench-acct-"))
    t_gen = time.perf_counter()
    server = SandboxServer(
        SandboxConfig(port=0, seed=7, customers=customers, days=days, exports_dir=None)
    )
    server.start()
    generated = time.perf_counter() - t_gen
    figures: dict[str, Any] = {
        "account": {"customers": customers, "days": days, "generated_s": round(generated, 1)},
        "batch": BATCH,
        "load_before": round(os.getloadavg()[0], 2),
    }
    pg = None
    try:
        sqlite = _run_child(
            f"sqlite:///{folder / 'account.db'}", f"sqlite:///{folder / 'floor.db'}", server.url
        )
        figures["events"] = sqlite["events"]
        figures["objects"] = sqlite["objects"]
        figures["event_types"] = dict(sorted(sqlite["types"].items(), key=lambda kv: -kv[1]))
        figures["sqlite"] = _figures(sqlite)
        bin_dir = find_pg_bin()
        if bin_dir is not None:
            pg = ThrowawayPostgres(bin_dir)
            pg.start()
            postgres = _run_child(pg.create_database(), pg.create_database(), server.url)
            figures["postgresql"] = _figures(postgres)
            figures["postgresql_vs_sqlite"] = (
                f"{postgres['wall'] / sqlite['wall']:.2f}x the time "
                f"({figures['postgresql']['events_per_s']} vs "
                f"{figures['sqlite']['events_per_s']} events/s)"
            )
        figures["load_after"] = round(os.getloadavg()[0], 2)
    finally:
        server.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return figures


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        print(json.dumps(run(), indent=2))
