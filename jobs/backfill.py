"""`python -m jobs backfill`: list Stripe objects by `created` window, concurrently and resumably."""

from __future__ import annotations

import argparse
import math
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
from core.errors import ConfigError
from core.sync.backfill import Backfill, BackfillReport
from core.sync.poll import AccountSync, SyncReport
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


def backfill_bucket(rate: float) -> TokenBucket:
    """The backfill's pacing: a burst of a tenth of a second's requests (well under Stripe's
    own, about a second's worth) lets workers catch up after a gap instead of losing those
    slots, with no 429s."""
    return TokenBucket(rate, burst=max(1.0, min(10.0, rate / 10)))


def run_backfill(
    runtime: Runtime,
    account: str,
    *,
    since_days: float = 90.0,
    concurrency: int | None = None,
    timeout: float = 20.0,
    progress: bool = True,
    page_limit: int = 100,
    bucket: TokenBucket | None = None,
    beside: Callable[[], bool] | None = None,
    on_planned: Callable[[], None] | None = None,
) -> BackfillReport:
    """Backfill one account through a paced, retrying gateway (`bucket`: a rate limit shared
    with what runs `beside` it)."""
    settings = runtime.settings
    client = make_client(settings, timeout=timeout)
    gateway = StripeGateway(client, account or None)
    rate = settings.effective_rate_limit
    # Requests in flight = rate x latency; leave room for ~400 ms (latency plus storing a page,
    # which waits for the database when many workers finish at once).
    concurrency = concurrency or default_concurrency(rate)
    # Fewer, shorter retries than a poll: a list that keeps failing leaves the backfill partial,
    # and it is retried after a back-off rather than holding up the first load.
    caller = PacedCaller(bucket or backfill_bucket(rate), RetryPolicy(max_attempts=5, cap=8.0))
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
            beside=beside,
        ).run(since_days=since_days, on_planned=on_planned)
    finally:
        if bar is not None:
            bar.close()


def backfill_beside_walk(
    runtime: Runtime,
    account: str,
    sync: AccountSync,
    bucket: TokenBucket,
    *,
    timeout: float = 20.0,
    force: bool = False,
) -> SyncReport | None:
    """A first start: the backfill and the account's event sync side by side under one rate
    limit (`sync` paced by `bucket` too). The event walk needs no backfilled object — snapshots
    keep the newest read whichever is stored first — so its chain of pages, half of a first
    start when it came after the backfill, now runs while the backfill fetches.

    The walk starts once the backfill's plan is stored: a first start interrupted after that
    resumes the backfill even when the walk has finished. Returns the sync's report, or None
    when the backfill stopped before its plan (the caller then runs the sync itself)."""
    reports: list[SyncReport] = []
    crashed: list[BaseException] = []

    def walk() -> None:
        try:
            reports.append(sync.run(force=force))
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            crashed.append(exc)

    walker = threading.Thread(target=walk, name=f"walk-{account or 'platform'}", daemon=True)
    try:
        run_backfill(
            runtime,
            account,
            since_days=90,
            timeout=timeout,
            bucket=bucket,
            beside=walker.is_alive,
            on_planned=walker.start,
        )
    finally:
        if walker.ident is not None:
            walker.join()
    if crashed:
        raise crashed[0]
    return reports[0] if reports else None


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
