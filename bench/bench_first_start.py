"""First start on a mature account: time and requests of the desk's first complete load.

A sandbox account of 10,000 customers with two years of history, 100 ms latency and Stripe's
test-mode limit of 25 requests/s. Measured side by side in the same run:

- the desk: `jobs sync` on an empty store (live objects whatever their age, the last 90 days
  by window, then the 30-day event window), over HTTP, parsed and stored;
- the floor a simple tool pays: the same lists walked one after the other with stripe-python's
  `auto_paging_iter` (nothing stored), under the same limit.

`BENCH_FIRST_START_CUSTOMERS` shrinks the account for a quick look.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RATE = 25.0
LATENCY_MS = 100


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def _sequential(url: str, since: int) -> tuple[int, int, float]:
    """Every list of the first load walked in sequence; (objects, requests, seconds)."""
    import stripe

    from core.sync.backfill_lists import LISTS

    client = stripe.StripeClient(
        "sk_test_sandbox", base_addresses={"api": url}, max_network_retries=5
    )
    objects = requests = 0
    t0 = time.perf_counter()
    walks: list[tuple[str, dict[str, Any]]] = [
        (spec.resource, {**spec.params, **({"created": {"gte": since}} if spec.windowed else {})})
        for spec in LISTS.values()
    ]
    walks.append(("events", {}))
    for resource, params in walks:
        service = client.v1
        for part in resource.split("."):
            service = getattr(service, part)
        page = service.list({**params, "limit": 100})
        requests += 1
        while True:
            objects += len(page.data)
            if not page.has_more:
                break
            time.sleep(1 / RATE)  # the same limit: a paced client, one request at a time
            page = service.list({**params, "limit": 100, "starting_after": page.data[-1].id})
            requests += 1
    return objects, requests, time.perf_counter() - t0


def run() -> dict[str, Any]:
    """First-start figures: the desk against a sequential walk of the same lists."""
    sys.path.insert(0, str(ROOT))
    from core.config import load_settings
    from jobs.runtime import open_runtime
    from jobs.sync import sync_all
    from sandbox.server import SandboxConfig, SandboxServer

    customers = int(os.environ.get("BENCH_FIRST_START_CUSTOMERS", "10000"))
    t_gen = time.perf_counter()
    server = SandboxServer(
        SandboxConfig(
            port=0,
            customers=customers,
            days=730,
            latency_ms=LATENCY_MS,
            rate_limit=RATE,
            exports_dir=None,
        )
    )
    url = server.start()
    generated = time.perf_counter() - t_gen
    try:
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
        load_before = _loadavg()
        t0, c0 = time.perf_counter(), time.process_time()
        (report,) = sync_all(rt, timeout=30)
        desk_s, desk_cpu = time.perf_counter() - t0, time.process_time() - c0
        with rt.Session() as s:
            from sqlalchemy import func, select

            from core.models.sync import BackfillShard, SyncState

            back = s.get(SyncState, ("", "backfill"))
            back_requests = int(back.requests) if back else 0
            objects = int(s.scalar(select(func.sum(BackfillShard.objects))) or 0)
        desk_requests = back_requests + report.requests
        since = int(time.time()) - 90 * 86400
        seq_objects, seq_requests, seq_s = _sequential(url, since)
        return {
            "account": {"customers": customers, "days": 730, "generated_s": round(generated, 1)},
            "limit_req_per_s": RATE,
            "latency_ms": LATENCY_MS,
            "loadavg_1m": load_before,
            "desk": {
                "seconds": round(desk_s, 1),
                "cpu_seconds": round(desk_cpu, 1),
                "requests": desk_requests,
                "objects": objects,
                "events": report.events_new,
                "request_rate": round(desk_requests / desk_s, 1),
                "share_of_limit": round(desk_requests / desk_s / RATE, 3),
                "ok": report.ok,
            },
            "sequential_auto_paging_iter": {
                "seconds": round(seq_s, 1),
                "requests": seq_requests,
                "objects": seq_objects,
                "request_rate": round(seq_requests / seq_s, 1),
            },
            "speedup_vs_sequential": round(seq_s / desk_s, 2),
        }
    finally:
        server.stop()


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
