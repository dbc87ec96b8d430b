"""Benchmark: how fast the sandbox builds an account, and how fast it pages events over HTTP.

Usage: python bench/sandbox_generate.py [--customers 20000] [--days 90]
Prints the figures and writes bench/results/sandbox_generate.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.config import SandboxConfig  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402


def main() -> int:
    """Run the benchmark and write its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--pages", type=int, default=50, help="event pages of 100 to fetch")
    args = parser.parse_args()
    started = time.perf_counter()
    server = SandboxServer(SandboxConfig(port=0, customers=args.customers, days=args.days))
    built = time.perf_counter() - started
    counts = server.state.platform.counts()
    url = server.start()
    import stripe

    client = stripe.StripeClient(
        "sk_test_sandbox", base_addresses={"api": url}, max_network_retries=0
    )
    t0 = time.perf_counter()
    page = client.v1.events.list({"limit": 100})
    fetched = len(page.data)
    for _ in range(args.pages - 1):
        if not page.has_more:
            break
        page = client.v1.events.list({"limit": 100, "starting_after": page.data[-1].id})
        fetched += len(page.data)
    paging = time.perf_counter() - t0
    # The same walk over raw HTTP: the server's share without the client's object building.
    import urllib.request

    t1 = time.perf_counter()
    cursor, raw_pages = "", 0
    for _ in range(args.pages):
        req = urllib.request.Request(
            f"{url}/v1/events?limit=100{cursor}",
            headers={"Authorization": "Bearer sk_test_sandbox"},
        )
        with urllib.request.urlopen(req) as resp:
            body = json.loads(resp.read())
        raw_pages += 1
        if not body["has_more"]:
            break
        cursor = f"&starting_after={body['data'][-1]['id']}"
    raw = time.perf_counter() - t1
    server.stop()
    result = {
        "customers": args.customers,
        "days": args.days,
        "build_seconds": round(built, 2),
        "objects": counts,
        "events": counts.get("event", 0),
        "events_per_second_built": round(counts.get("event", 0) / built),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "events_paged": fetched,
        "event_pages_per_second_stripe_client": round((fetched / 100) / paging, 1),
        "event_pages_per_second_raw_http": round(raw_pages / raw, 1),
    }
    out = ROOT / "bench" / "results" / "sandbox_generate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
