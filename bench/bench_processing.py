"""Event processing: the queue's handlers over a realistic event mix, beside the bare-insert floor.

For SQLite and PostgreSQL, the same stream of Stripe-shaped events (bench/bench_sync.py's mix of
invoices, charges, payment intents, subscriptions, disputes, ...) is ingested, then processed by
`process_batch` until the queue is empty; events per second (wall and CPU) are printed beside the
floor measured in the same run: one plain `executemany` INSERT of the same raw events into a table
of the same shape, through the raw driver, committed (the best of FLOOR_RUNS tries, so a floor
slowed by the shared machine never flatters the ratio). The ratio is processing wall time over
floor time; events per CPU-second and the load average are printed beside it.

The processing of the code as it was at BASELINE_REF (before set-based processing), at
ROUND1_REF (set-based, with each dispute event still reading its evidence one query at a time) and
at ROUND2_REF (evidence read per batch; win history, owner, escalation and alert briefs still
written and read per event, every handled event's payload read) is measured in the same run from a
`git archive` of each commit, in a subprocess, on the same events.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REF = "21f2f81"  # the processing loop before set-based processing
ROUND1_REF = "c6c852a"  # set-based processing, before the dispute facts were read per batch
ROUND2_REF = "2c0fd34"  # before the batch's win history, one-statement alerts and lazy payloads
EVENTS = 3000
BATCH = 500
FLOOR_RUNS = 3


def _floor(url: str, events: list[dict[str, Any]]) -> tuple[float, float]:
    """(wall, CPU) seconds of one executemany INSERT of the raw events into a table like
    `events`, the best of FLOOR_RUNS tries."""
    return min(_floor_once(url, events) for _ in range(FLOOR_RUNS))


def _floor_once(url: str, events: list[dict[str, Any]]) -> tuple[float, float]:
    from sqlalchemy import create_engine

    rows = [
        (
            e["id"],
            e["type"],
            int(e["created"]),
            "",
            (e.get("data") or {}).get("object", {}).get("id"),
            json.dumps(e),
        )
        for e in events
    ]
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS floor_events")
        cur.execute(
            "CREATE TABLE floor_events (id INTEGER PRIMARY KEY, event_id VARCHAR(255) UNIQUE, "
            "type VARCHAR(128), created BIGINT, account VARCHAR(255), object_id VARCHAR(255), "
            "payload TEXT, status VARCHAR(16) DEFAULT 'pending')"
            if engine.dialect.name == "sqlite"
            else "CREATE TABLE floor_events (id BIGSERIAL PRIMARY KEY, event_id VARCHAR(255) "
            "UNIQUE, type VARCHAR(128), created BIGINT, account VARCHAR(255), object_id "
            "VARCHAR(255), payload JSONB, status VARCHAR(16) DEFAULT 'pending')"
        )
        raw.commit()
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        started, cpu = time.perf_counter(), time.process_time()
        cur.executemany(
            "INSERT INTO floor_events (event_id, type, created, account, object_id, payload) "
            f"VALUES ({', '.join([mark] * 6)})",
            rows,
        )
        raw.commit()
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        raw.close()
        engine.dispose()


def measure(url: str, events_file: str) -> dict[str, Any]:
    """Ingest the events into a fresh database at `url`, then time processing them all."""
    from core.db import make_engine, make_sessionmaker, migrate
    from core.sync.ingest import ingest_events
    from core.sync.processing import load_handler_modules, process_batch

    events = json.loads(Path(events_file).read_text())
    load_handler_modules()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    for i in range(0, len(events), 1000):
        with Session.begin() as s:
            ingest_events(s, events[i : i + 1000])
    count = len(events)
    del events  # a worker holds no parsed backlog: neither does the timed process
    gc.collect()
    totals = {"processed": 0, "retrying": 0, "dead": 0}
    wall, cpu = time.perf_counter(), time.process_time()
    while True:
        report = process_batch(Session, limit=BATCH)
        if not report.claimed:
            break
        for key in totals:
            totals[key] += getattr(report, key)
        if report.processed == 0 and report.claimed == report.retrying + report.dead:
            break  # only retries left: they are due later
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    return {"wall": wall, "cpu": cpu, "events": count, **totals}


def _measure_in(code_root: Path, url: str, events_file: str) -> dict[str, Any]:
    """`measure` in a subprocess importing `core` from `code_root` (this tree or a baseline)."""
    script = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(code_root)!r}, {str(ROOT)!r}]\n"
        "from bench.bench_processing import measure\n"
        f"print(json.dumps(measure({url!r}, {events_file!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=code_root
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _baseline_tree(folder: Path, ref: str = BASELINE_REF) -> Path | None:
    """The `core` package as of `ref`, unpacked under `folder` (None without git)."""
    target = folder / f"baseline-{ref}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "core"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def _line(name: str, res: dict[str, Any], floor: float) -> dict[str, Any]:
    n = res["events"]
    return {
        f"{name}_events_per_s": round(n / res["wall"]),
        f"{name}_events_per_cpu_s": round(n / res["cpu"]),
        f"{name}_vs_floor": f"{res['wall'] / floor:.1f}x",
        f"{name}_outcome": f"processed={res['processed']} retrying={res['retrying']} "
        f"dead={res['dead']}",
    }


def run() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from bench.bench_sync import realistic_events
    from tests.support.pg import ThrowawayPostgres, find_pg_bin

    folder = Path(tempfile.mkdtemp(prefix="ledgerdesk-bench-proc-"))
    events_file = folder / "events.json"
    events = list(realistic_events(EVENTS, seed=7))
    events_file.write_text(json.dumps(events))
    baseline = _baseline_tree(folder)
    round1 = _baseline_tree(folder, ROUND1_REF)
    round2 = _baseline_tree(folder, ROUND2_REF)
    figures: dict[str, Any] = {"events": EVENTS, "batch": BATCH, "load_before": os.getloadavg()[0]}
    pg = None
    try:
        targets: list[tuple[str, Any]] = [("sqlite", None)]
        bin_dir = find_pg_bin()
        if bin_dir is not None:
            pg = ThrowawayPostgres(bin_dir)
            pg.start()
            targets.append(("postgresql", pg))
        for dialect, server in targets:

            def url(tag: str, server: Any = server) -> str:
                if server is None:
                    return f"sqlite:///{folder / (tag + '.db')}"
                return str(server.create_database())

            floor, floor_cpu = _floor(url("floor"), events)
            figures[f"{dialect}_floor_events_per_s"] = round(EVENTS / floor)
            if dialect == "sqlite":  # in-process: its CPU is all the work (not so on a server)
                figures["sqlite_floor_events_per_cpu_s"] = round(EVENTS / floor_cpu)
            now = _measure_in(ROOT, url("now"), str(events_file))
            figures |= _line(f"{dialect}_processing", now, floor)
            if dialect == "sqlite":
                figures["sqlite_processing_vs_floor_cpu"] = f"{now['cpu'] / floor_cpu:.1f}x"
            if baseline is not None:
                before = _measure_in(baseline, url("before"), str(events_file))
                figures |= _line(f"{dialect}_before", before, floor)
            if round1 is not None:
                previous = _measure_in(round1, url("round1"), str(events_file))
                figures |= _line(f"{dialect}_round1", previous, floor)
                figures[f"{dialect}_vs_round1_cpu"] = (
                    f"{previous['cpu'] / now['cpu']:.2f}x less CPU"
                )
            if round2 is not None:
                previous = _measure_in(round2, url("round2"), str(events_file))
                figures |= _line(f"{dialect}_round2", previous, floor)
                figures[f"{dialect}_vs_round2_cpu"] = (
                    f"{previous['cpu'] / now['cpu']:.2f}x less CPU"
                )
        if "postgresql_processing_events_per_s" in figures:
            figures["postgresql_vs_sqlite"] = (
                f"{figures['sqlite_processing_events_per_s'] / figures['postgresql_processing_events_per_s']:.2f}x slower"
            )
        figures["load_after"] = os.getloadavg()[0]
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return figures
