"""What a sync costs the user: HTTP, parse and store, at Stripe's page size, against the limit.

A sandbox account with 100 ms latency, limited to 25 and then 100 requests/s. At each limit a
fresh process runs, on an empty SQLite store:

- the backfill at page size 100 (every list, concurrent under the limit): requests/s achieved
  as a share of the limit, objects stored per CPU-second;
- then the event walk of the sync (the 30-day window, one page after the other): events
  stored per CPU-second.

Each figure is measured twice in the same run, beside each other: the desk's fetch (the body
parsed once, with orjson) and the previous one (stripe-python turning every page into
StripeObjects first), so the ratio shows what parsing once buys. CPU is the sync process's own
(user + system, every thread); the sandbox runs in another process.

`BENCH_FETCH_CUSTOMERS` sizes the account (default 2,000).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LATENCY_MS = 100
PAGE = 100
RATES = (25.0, 100.0)
PATHS = ("raw", "converted")


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


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


def _child(url: str, rate: float, path: str) -> dict[str, Any]:
    """Runs in its own process: backfill, then the event walk, into a fresh SQLite store."""
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
    env = {
        "DATABASE_URL": f"sqlite:///{folder}/bench.db",
        "LEDGERDESK_DATA_DIR": folder,
        "STRIPE_API_KEY": "sk_test_sandbox",
        "STRIPE_API_BASE": url,
        "LEDGERDESK_SANDBOX": "1",
        "STRIPE_RATE_LIMIT": str(rate),
    }
    rt = open_runtime(load_settings(env, secrets_file=Path("/nonexistent")))
    try:
        load = _loadavg()
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
            "loadavg_1m": load,
            "backfill_requests": report.requests,
            "backfill_429": report.rate_limited,
            "backfill_seconds": round(wall, 2),
            "request_rate": round(report.requests / wall, 1),
            "share_of_limit": round(report.requests / wall / rate, 3),
            "objects_stored": objects,
            "backfill_cpu_seconds": round(cpu, 2),
            "objects_per_cpu_s": int(objects / cpu),
            "event_walk_requests": walk.requests,
            "event_walk_seconds": round(walk_wall, 2),
            "events_stored": events,
            "event_walk_cpu_seconds": round(walk_cpu, 2),
            "events_per_cpu_s": int(events / walk_cpu),
            "stored_per_cpu_s": int((objects + events) / (cpu + walk_cpu)),
        }
    finally:
        rt.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _parse_child(url: str) -> dict[str, Any]:
    """Runs in its own process: CPU to fetch and parse one 100-event page, both ways."""
    sys.path.insert(0, str(ROOT))
    from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
    from core.config import load_settings

    folder = tempfile.mkdtemp(prefix="ledgerdesk-bench-")
    env = {
        "DATABASE_URL": f"sqlite:///{folder}/bench.db",
        "LEDGERDESK_DATA_DIR": folder,
        "STRIPE_API_KEY": "sk_test_sandbox",
        "STRIPE_API_BASE": url,
    }
    gateway = StripeGateway(make_client(load_settings(env, secrets_file=Path("/nonexistent"))))
    out: dict[str, Any] = {}
    for name, fetch in (("raw", list_page_raw), ("converted", _converted_list_page)):
        fetch(gateway, "events", {"limit": PAGE})  # warm: imports, connection
        cpu0 = _cpu()
        for _ in range(10):
            fetch(gateway, "events", {"limit": PAGE})
        out[f"{name}_cpu_ms_per_page"] = round((_cpu() - cpu0) * 100, 1)
    shutil.rmtree(folder, ignore_errors=True)
    return out


def _measure(url: str, rate: float, path: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "child", url, str(rate), path],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:  # a figure of its own: say what stopped it, keep the others
        last = out.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"failed": last[0][:300]}
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def bench_rate(rate: float, customers: int) -> dict[str, Any]:
    """Both fetch paths against one sandbox limited to `rate`/s with 100 ms latency."""
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
        runs = {path: _measure(url, rate, path) for path in PATHS}
        runs["parse"] = _measure(url, rate, "parse")
    finally:
        server.stop()
    raw, old = runs["raw"], runs["converted"]
    if "failed" in raw or "failed" in old:
        return {"limit_per_s": rate, "customers": customers, "raw": raw, "converted": old}
    return {
        "limit_per_s": rate,
        "latency_ms": LATENCY_MS,
        "page_size": PAGE,
        "customers": customers,
        "raw": raw,
        "converted": old,
        "fetch_and_parse_100_events": runs["parse"],
        "share_of_limit": f"{raw['share_of_limit']:.1%} vs {old['share_of_limit']:.1%}",
        "events_per_cpu_s_ratio": round(raw["events_per_cpu_s"] / old["events_per_cpu_s"], 2),
        "objects_per_cpu_s_ratio": round(raw["objects_per_cpu_s"] / old["objects_per_cpu_s"], 2),
        "stored_per_cpu_s_ratio": round(raw["stored_per_cpu_s"] / old["stored_per_cpu_s"], 2),
    }


def run() -> dict[str, Any]:
    """Sync figures at both limits, raw fetch beside the converted one."""
    customers = int(os.environ.get("BENCH_FETCH_CUSTOMERS", "2000"))
    only = os.environ.get("BENCH_FETCH_RATES")
    rates = tuple(float(r) for r in only.split(",")) if only else RATES
    return {f"sync_{rate:g}_per_s": bench_rate(rate, customers) for rate in rates}


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child":
        url, rate, path = sys.argv[2], float(sys.argv[3]), sys.argv[4]
        print(json.dumps(_parse_child(url) if path == "parse" else _child(url, rate, path)))
    else:
        print(json.dumps(run(), indent=2))
