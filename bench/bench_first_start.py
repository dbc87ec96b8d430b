"""First start on a mature account: the desk's first complete load beside a sequential walk.

A sandbox account of 10,000 customers with two years of history, 100 ms latency and Stripe's
test-mode limit of 25 requests/s. Measured in the same run, against the same sandbox, each in
a process of its own (so each CPU figure is that client's alone; the sandbox runs here):

- the desk: `jobs sync` on an empty SQLite store (the backfill — live objects whatever their
  age, the last 90 days by window — then the 30-day event window), fetched, parsed, stored;
- the floor a simple tool pays: the same lists and the event window walked one after the other
  with stripe-python's `auto_paging_iter` (StripeObjects, nothing stored).

Printed: wall time and CPU of each, and their ratios; requests/s as a share of the limit.
`BENCH_FIRST_START_CUSTOMERS` / `BENCH_FIRST_START_DAYS` shrink the account for a quick look.
`bench/bench_peers.py` (optional, `BENCH=peers make bench`) adds tap-stripe to the same race.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RATE = 25.0
LATENCY_MS = 100
SINCE_DAYS = 90


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def walks(since: int) -> list[tuple[str, dict[str, Any]]]:
    """What a first load lists, as (resource, params): the backfill's lists (windowed ones
    from `since`), then the event window."""
    from core.sync.backfill_lists import LISTS

    out: list[tuple[str, dict[str, Any]]] = [
        (spec.resource, {**spec.params, **({"created": {"gte": since}} if spec.windowed else {})})
        for spec in LISTS.values()
    ]
    out.append(("events", {}))
    return out


def _desk_child(url: str) -> dict[str, Any]:
    """Own process: `jobs sync` on an empty store (backfill, then the event window)."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import func, select

    from core.config import load_settings
    from core.models.sync import BackfillShard, SyncState
    from jobs.runtime import open_runtime
    from jobs.sync import sync_all

    folder = tempfile.mkdtemp(prefix="ledgerdesk-bench-")
    env = {
        "DATABASE_URL": f"sqlite:///{folder}/bench.db",
        "LEDGERDESK_DATA_DIR": folder,
        "STRIPE_API_KEY": "sk_test_sandbox",
        "STRIPE_API_BASE": url,
        "LEDGERDESK_SANDBOX": "1",
        "STRIPE_RATE_LIMIT": str(RATE),
    }
    rt = open_runtime(load_settings(env, secrets_file=Path("/nonexistent")))
    try:
        t0, c0 = time.perf_counter(), _cpu()
        (report,) = sync_all(rt, timeout=30)
        seconds, cpu = time.perf_counter() - t0, _cpu() - c0
        with rt.Session() as s:
            back = s.get(SyncState, ("", "backfill"))
            requests = (int(back.requests) if back else 0) + report.requests
            objects = int(s.scalar(select(func.sum(BackfillShard.objects))) or 0)
        return {
            "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 2),
            "requests": requests,
            "objects": objects,
            "events": report.events_new,
            "ok": report.ok,
        }
    finally:
        rt.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _sequential_child(url: str) -> dict[str, Any]:
    """Own process: every list of the first load, one after the other, `auto_paging_iter`."""
    sys.path.insert(0, str(ROOT))
    import stripe

    requests = [0]

    class Counting(stripe.RequestsClient):  # type: ignore[misc]
        def request(self, *args: Any, **kwargs: Any) -> Any:
            requests[0] += 1
            return super().request(*args, **kwargs)

    client = stripe.StripeClient(
        "sk_test_sandbox",
        base_addresses={"api": url},
        max_network_retries=5,
        http_client=Counting(),
    )
    since = int(time.time()) - SINCE_DAYS * 86400
    objects = 0
    t0, c0 = time.perf_counter(), _cpu()
    for name, params in walks(since):
        service: Any = client.v1
        for part in name.split("."):
            service = getattr(service, part)
        for _ in service.list({**params, "limit": 100}).auto_paging_iter():
            objects += 1
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(_cpu() - c0, 2),
        "requests": requests[0],
        "objects_and_events": objects,
    }


def child(kind: str, url: str, *extra: str) -> dict[str, Any]:
    """Run one contender in its own process; its figures, or why it failed."""
    out = subprocess.run(
        [sys.executable, __file__, "child", kind, url, *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:
        last = out.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"failed": last[0][:300]}
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def versus(desk: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Ratios of the desk against another contender (over 1: the desk is faster / cheaper)."""
    if "failed" in desk or "failed" in other:
        return {}
    return {
        "wall_time": f"{other['seconds'] / desk['seconds']:.2f}x faster "
        f"({desk['seconds']} s vs {other['seconds']} s)",
        "cpu": f"{other['cpu_seconds'] / desk['cpu_seconds']:.2f}x less CPU "
        f"({desk['cpu_seconds']} s vs {other['cpu_seconds']} s)",
    }


def sandbox(customers: int, days: int) -> Any:
    """A started sandbox server for the race (the caller stops it)."""
    sys.path.insert(0, str(ROOT))
    from sandbox.server import SandboxConfig, SandboxServer

    server = SandboxServer(
        SandboxConfig(
            port=0,
            customers=customers,
            days=days,
            latency_ms=LATENCY_MS,
            rate_limit=RATE,
            exports_dir=None,
        )
    )
    server.start()
    return server


def race(extra: Callable[[str], dict[str, Any]] | None = None) -> dict[str, Any]:
    """The desk and the sequential walk (and `extra`, if given) against one sandbox."""
    customers = int(os.environ.get("BENCH_FIRST_START_CUSTOMERS", "10000"))
    days = int(os.environ.get("BENCH_FIRST_START_DAYS", "730"))
    t_gen = time.perf_counter()
    server = sandbox(customers, days)
    generated = time.perf_counter() - t_gen
    try:
        load = _loadavg()
        desk = child("desk", server.url)
        sequential = child("sequential", server.url)
        others = extra(server.url) if extra else {}
        load_after = _loadavg()
    finally:
        server.stop()
    for figures in (desk, sequential):
        if "failed" not in figures:
            rate = figures["requests"] / figures["seconds"]
            figures["request_rate"] = f"{rate:.1f}/s ({rate / RATE:.1%} of the {RATE:g}/s limit)"
    out = {
        "account": {"customers": customers, "days": days, "generated_s": round(generated, 1)},
        "limit_req_per_s": RATE,
        "latency_ms": LATENCY_MS,
        "loadavg_1m": f"{load} before, {load_after} after",
        "desk": desk,
        "sequential_auto_paging_iter": sequential,
        "desk_vs_sequential": versus(desk, sequential),
    }
    out.update(others)
    return out


def run() -> dict[str, Any]:
    """First-start figures: the desk against a sequential walk of the same lists."""
    return race()


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "child":
        kind, url = sys.argv[2], sys.argv[3]
        print(json.dumps(_desk_child(url) if kind == "desk" else _sequential_child(url)))
    else:
        print(json.dumps(run(), indent=2))
