"""What a sync costs the user: HTTP, parse and store, at Stripe's page size, against its bounds.

A sandbox account with 100 ms latency, limited to 25 and then 100 requests/s. At each limit a
fresh process runs, on an empty SQLite store, what a first start runs:

- the backfill at page size 100 (every list, concurrent under the limit);
- then the event walk of the sync (the 30-day window, newest first, one page after the other).

Each figure is printed beside its bound, measured against the same sandbox in the same run:

- backfill requests/s as a share of the **rate limit**, and beside what the same number of
  workers under the same token bucket get with **nothing stored** (first pages of every list,
  for six seconds): what the sandbox and the HTTP client allow on this machine at this load;
- the walk's requests/s beside the **sequential bound**: a cursor walk asks for page n+1 only
  once page n has arrived, so it cannot beat one request per round trip (the median round trip
  of a bare 100-event page, measured in the run) — nor the limit;
- objects and events stored per CPU-second (fetch + parse + store) beside the same pages
  **fetched and parsed only** (nothing stored), i.e. what storing costs on top; and beside the
  issue's target of 5,000 events per CPU-second.

CPU is the sync process's own (user + system, every thread); the sandbox runs in this process.
`BENCH_FETCH_CUSTOMERS` sizes the account (default 2,000); `BENCH_FETCH_RATES=25` picks limits;
`BENCH_FETCH_COMPARE=1` also runs the previous fetch (stripe-python's StripeObjects, then the
JSON taken back), beside the desk's, in the same run. Where PostgreSQL's server binaries are
installed, the same sync also runs into a throwaway PostgreSQL (`BENCH_FETCH_POSTGRES=0` skips
it); its figures count the sync process's CPU, not the server's.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LATENCY_MS = 100
PAGE = 100
RATES = (25.0, 100.0)
TARGET_EVENTS_PER_CPU_S = 5000


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _env(folder: str, url: str, rate: float, database: str = "") -> dict[str, str]:
    return {
        "DATABASE_URL": database or f"sqlite:///{folder}/bench.db",
        "LEDGERDESK_DATA_DIR": folder,
        "STRIPE_API_KEY": "sk_test_sandbox",
        "STRIPE_API_BASE": url,
        "LEDGERDESK_SANDBOX": "1",
        "STRIPE_RATE_LIMIT": str(rate),
    }


def _converted_list_page(gateway: Any, resource_name: str, params: Any) -> dict[str, Any]:
    """The previous fetch: `service.list` builds StripeObjects, then the JSON is taken back."""
    import stripe

    from core.adapters.stripe_gateway import _plain, translate_error

    service = gateway._service(resource_name)
    try:
        page = service.list(dict(params), gateway._options())
    except stripe.StripeError as exc:
        raise translate_error(exc) from None
    data = getattr(getattr(page, "last_response", None), "data", None)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return data
    plain: dict[str, Any] = _plain(page)
    return plain


def _sync_child(url: str, rate: float, path: str, database: str = "") -> dict[str, Any]:
    """Own process: the backfill, then the event walk, into a fresh store (SQLite, or the
    empty PostgreSQL database `database`)."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import func, select

    import jobs.backfill
    import jobs.sync
    from core.config import load_settings
    from core.models.sync import Event, StripeObject
    from jobs.runtime import open_runtime

    if path == "converted":
        jobs.backfill.list_page_raw = _converted_list_page  # type: ignore[assignment]
        jobs.sync.list_page_raw = _converted_list_page  # type: ignore[assignment]
    folder = tempfile.mkdtemp(prefix="ledgerdesk-bench-")
    rt = open_runtime(
        load_settings(_env(folder, url, rate, database), secrets_file=Path("/nonexistent"))
    )
    try:
        cpu0, t0 = _cpu(), time.perf_counter()
        report = jobs.backfill.run_backfill(
            rt, "", since_days=90, concurrency=None, progress=False, page_limit=PAGE
        )
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        with rt.Session() as s:
            objects = s.scalar(select(func.count()).select_from(StripeObject)) or 0
        cpu1, t1 = _cpu(), time.perf_counter()
        walk = jobs.sync.build_account_sync(rt, "").run()
        walk_wall, walk_cpu = time.perf_counter() - t1, _cpu() - cpu1
        with rt.Session() as s:
            events = s.scalar(select(func.count()).select_from(Event)) or 0
        return {
            "backfill_requests": report.requests,
            "backfill_429": report.rate_limited,
            "backfill_seconds": round(wall, 2),
            "backfill_request_rate": round(report.requests / wall, 1),
            "objects_stored": objects,
            "backfill_cpu_seconds": round(cpu, 2),
            "objects_per_cpu_s": int(objects / cpu),
            "walk_requests": walk.requests,
            "walk_seconds": round(walk_wall, 2),
            "walk_request_rate": round(walk.requests / walk_wall, 1),
            "events_stored": events,
            "walk_cpu_seconds": round(walk_cpu, 2),
            "events_per_cpu_s": int(events / walk_cpu),
        }
    finally:
        rt.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _bounds_child(url: str, rate: float) -> dict[str, Any]:
    """Own process: the same fetch with nothing stored — CPU per object and per event to fetch
    and parse pages of 100, and the round trip of one page, one request at a time."""
    sys.path.insert(0, str(ROOT))
    from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
    from core.config import load_settings
    from core.sync.backfill_lists import LISTS
    from core.sync.ratelimit import PacedCaller, TokenBucket

    folder = tempfile.mkdtemp(prefix="ledgerdesk-bench-")
    settings = load_settings(_env(folder, url, rate), secrets_file=Path("/nonexistent"))
    gateway = StripeGateway(make_client(settings))
    pause = 1.0 / rate  # stay under the limit: no 429 in the figures

    def walk(resource: str, params: dict[str, Any], pages: int) -> tuple[int, float, list[float]]:
        count, cpu, trips = 0, 0.0, []
        params = {**params, "limit": PAGE}
        for _ in range(pages):
            cpu0, t0 = _cpu(), time.perf_counter()
            page = list_page_raw(gateway, resource, params)
            trips.append(time.perf_counter() - t0)
            cpu += _cpu() - cpu0
            count += len(page["data"])
            if not page["has_more"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
            time.sleep(pause)
        return count, cpu, trips

    def paced(seconds: float) -> float:
        """Requests/s the backfill's workers get with nothing stored: first pages of every
        list, as many threads and the same token bucket as `jobs backfill` uses."""
        from jobs.backfill import default_concurrency

        caller = PacedCaller(TokenBucket(rate, burst=max(1.0, min(10.0, rate / 10))))
        specs = list(LISTS.values())
        stop = time.perf_counter() + seconds

        def work(n: int) -> None:
            while time.perf_counter() < stop:
                spec = specs[n % len(specs)]
                caller.call(list_page_raw, gateway, spec.resource, {**spec.params, "limit": PAGE})
                n += 1

        threads = [
            threading.Thread(target=work, args=(n,)) for n in range(default_concurrency(rate))
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return caller.stats.requests / (time.perf_counter() - t0)

    list_page_raw(gateway, "events", {"limit": 1})  # warm: imports, connection
    events, events_cpu, trips = walk("events", {}, 20)
    objects = objects_cpu = 0.0
    for name in ("customers", "subscriptions", "charges", "invoices"):
        spec = LISTS[name]
        n, c, _ = walk(spec.resource, dict(spec.params), 5)
        objects, objects_cpu = objects + n, objects_cpu + c
    served = paced(6.0)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "fetch_only_request_rate": round(served, 1),
        "page_round_trip_s": round(statistics.median(trips), 4),
        "fetch_parse_events_per_cpu_s": int(events / events_cpu),
        "fetch_parse_objects_per_cpu_s": int(objects / objects_cpu),
        "fetch_parse_cpu_ms_per_100_events": round(events_cpu / events * 100_000, 1),
    }


def _child(kind: str, url: str, rate: float, database: str = "") -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "child", kind, url, str(rate), database],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:  # a figure of its own: say what stopped it, keep the others
        last = out.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"failed": last[0][:300]}
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def bench_rate(rate: float, customers: int, compare: bool, pg: Any = None) -> dict[str, Any]:
    """The desk's sync against one sandbox limited to `rate`/s, beside its bounds (and, with a
    throwaway PostgreSQL server `pg`, the same sync storing into PostgreSQL)."""
    sys.path.insert(0, str(ROOT))
    from sandbox.server import SandboxConfig, SandboxServer

    server = SandboxServer(
        SandboxConfig(
            port=0,
            customers=customers,
            days=90,
            latency_ms=LATENCY_MS,
            rate_limit=rate,
            exports_dir=None,
        )
    )
    url = server.start()
    try:
        load = _loadavg()
        desk = _child("raw", url, rate)
        bounds = _child("bounds", url, rate)
        desk_pg = _child("raw", url, rate, pg.create_database()) if pg is not None else None
        old = _child("converted", url, rate) if compare else None
        load_after = _loadavg()
    finally:
        server.stop()
    out: dict[str, Any] = {
        "limit_per_s": rate,
        "latency_ms": LATENCY_MS,
        "page_size": PAGE,
        "customers": customers,
        "loadavg_1m": f"{load} before, {load_after} after",
        "desk": desk,
        "bounds": bounds,
    }
    if "failed" in desk or "failed" in bounds:
        return out
    walk_bound = min(rate, 1 / bounds["page_round_trip_s"])
    out["figures"] = {
        "backfill_share_of_limit": f"{desk['backfill_request_rate'] / rate:.1%} "
        f"({desk['backfill_request_rate']}/s of {rate:g}/s); the same workers fetching "
        f"first pages with nothing stored got {bounds['fetch_only_request_rate']}/s "
        f"({bounds['fetch_only_request_rate'] / rate:.1%})",
        "walk_share_of_sequential_bound": f"{desk['walk_request_rate'] / walk_bound:.1%} "
        f"({desk['walk_request_rate']}/s of {walk_bound:.1f}/s = one request per "
        f"{bounds['page_round_trip_s'] * 1000:.0f} ms round trip; limit {rate:g}/s)",
        "objects_per_cpu_s": f"{desk['objects_per_cpu_s']:,} stored vs "
        f"{bounds['fetch_parse_objects_per_cpu_s']:,} fetched and parsed only "
        f"({_ratio(desk['objects_per_cpu_s'], bounds['fetch_parse_objects_per_cpu_s'])})",
        "events_per_cpu_s": f"{desk['events_per_cpu_s']:,} stored vs "
        f"{bounds['fetch_parse_events_per_cpu_s']:,} fetched and parsed only "
        f"({_ratio(desk['events_per_cpu_s'], bounds['fetch_parse_events_per_cpu_s'])}); "
        f"target {TARGET_EVENTS_PER_CPU_S:,} "
        f"({_ratio(desk['events_per_cpu_s'], TARGET_EVENTS_PER_CPU_S)})",
    }
    if desk_pg is not None:
        out["desk_postgresql"] = desk_pg
        if "failed" not in desk_pg:
            out["figures"]["postgresql"] = (
                f"backfill {desk_pg['backfill_request_rate'] / rate:.1%} of the limit "
                f"({desk_pg['backfill_request_rate']}/s), {desk_pg['objects_per_cpu_s']:,} objects "
                f"and {desk_pg['events_per_cpu_s']:,} events per CPU-s of the sync process "
                "(the server's own CPU not counted)"
            )
    if old is not None:
        out["previous_fetch"] = old
        if "failed" not in old:
            out["figures"]["vs_previous_fetch"] = (
                f"backfill {_ratio(desk['backfill_request_rate'], old['backfill_request_rate'])} "
                f"requests/s, {_ratio(desk['objects_per_cpu_s'], old['objects_per_cpu_s'])} "
                f"objects/CPU-s, {_ratio(desk['events_per_cpu_s'], old['events_per_cpu_s'])} "
                "events/CPU-s"
            )
    return out


def run() -> dict[str, Any]:
    """Sync figures at each limit, each beside its bound from the same run."""
    customers = int(os.environ.get("BENCH_FETCH_CUSTOMERS", "2000"))
    only = os.environ.get("BENCH_FETCH_RATES")
    rates = tuple(float(r) for r in only.split(",")) if only else RATES
    compare = os.environ.get("BENCH_FETCH_COMPARE") == "1"
    sys.path.insert(0, str(ROOT))
    from tests.support.pg import ThrowawayPostgres, find_pg_bin

    pg = None
    bin_dir = find_pg_bin() if os.environ.get("BENCH_FETCH_POSTGRES", "1") == "1" else None
    if bin_dir is not None:
        pg = ThrowawayPostgres(bin_dir)
        pg.start()
    try:
        return {f"sync_{rate:g}_per_s": bench_rate(rate, customers, compare, pg) for rate in rates}
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "child":
        kind, url, rate, database = sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
        result = (
            _bounds_child(url, rate) if kind == "bounds" else _sync_child(url, rate, kind, database)
        )
        print(json.dumps(result))
    else:
        print(json.dumps(run(), indent=2))
