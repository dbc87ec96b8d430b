"""`python -m jobs backfill`: list Stripe objects by `created` window, concurrently and resumably."""

from __future__ import annotations

import argparse
import math
import re
import sys
from typing import Any

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
from core.errors import ConfigError
from core.sync.backfill import Backfill, BackfillReport
from core.sync.ratelimit import PacedCaller, RetryPolicy, TokenBucket
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "backfill Stripe objects (first start, or a cursor older than the 30-day event window)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the backfill command."""
    parser.add_argument("--since", default="90d", help="how far back, e.g. 90d, 12h (default 90d)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="parallel requests (default: 8, or more to keep the rate busy at ~400 ms a request)",
    )
    parser.add_argument("--account", help="only this account (acct_... or 'platform')")
    parser.add_argument("--timeout", type=float, default=20.0, help="request timeout in seconds")
    parser.add_argument("--page-limit", type=int, default=100, help=argparse.SUPPRESS)


def parse_since(text: str) -> float:
    """'90d' / '12h' / '30m' → days."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhm]?)\s*", text)
    if not match:
        raise ConfigError(f"--since {text!r} is not a duration: use e.g. 90d, 12h or 30m.")
    value, unit = float(match.group(1)), match.group(2) or "d"
    return value / {"d": 1, "h": 24, "m": 1440}[unit]


def _progress_bar(account: str) -> Any:
    if not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm  # type: ignore[import-untyped]

    bar = tqdm(total=0, unit="shard", desc=f"backfill {account or 'platform'}", leave=True)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def default_concurrency(rate: float) -> int:
    """Workers to keep `rate` requests/s busy when a request takes up to ~400 ms end to end."""
    return max(8, math.ceil(rate * 0.4))


def run_backfill(
    runtime: Runtime,
    account: str,
    *,
    since_days: float = 90.0,
    concurrency: int | None = None,
    timeout: float = 20.0,
    progress: bool = True,
    page_limit: int = 100,
) -> BackfillReport:
    """Backfill one account through a paced, retrying gateway."""
    settings = runtime.settings
    client = make_client(settings, timeout=timeout)
    gateway = StripeGateway(client, account or None)
    rate = settings.effective_rate_limit
    # Requests in flight = rate x latency; leave room for ~400 ms (latency plus storing a page,
    # which waits for the database when many workers finish at once).
    concurrency = concurrency or default_concurrency(rate)
    # A burst of a tenth of a second's requests (well under Stripe's own, about a second's
    # worth) lets workers catch up after a gap instead of losing those slots, with no 429s.
    # Fewer, shorter retries than a poll: a list that keeps failing leaves the backfill partial,
    # and it is retried after a back-off rather than holding up the first load.
    caller = PacedCaller(
        TokenBucket(rate, burst=max(1.0, min(10.0, rate / 10))),
        RetryPolicy(max_attempts=5, cap=8.0),
    )
    bar, update = _progress_bar(account) if progress else (None, None)
    try:
        return Backfill(
            runtime.Session,
            caller,
            lambda resource, params: list_page_raw(gateway, resource, params),
            account=account,
            concurrency=concurrency,
            page_limit=page_limit,
            progress=update,
        ).run(since_days=since_days)
    finally:
        if bar is not None:
            bar.close()


def run(args: argparse.Namespace) -> Output:
    """Backfill every configured account (or one)."""
    from jobs.sync import accounts_of

    runtime = open_runtime()
    days = parse_since(args.since)
    reports = [
        run_backfill(
            runtime,
            account,
            since_days=days,
            concurrency=args.concurrency,
            timeout=args.timeout,
            page_limit=args.page_limit,
        )
        for account in accounts_of(runtime, args.account)
    ]
    return Output(
        [r.as_dict() for r in reports],
        "\n".join(r.summary() for r in reports),
        0 if all(r.ok for r in reports) else 1,
    )
