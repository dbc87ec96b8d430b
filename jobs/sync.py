"""`python -m jobs sync`: pull new Stripe events for every account into the store."""

from __future__ import annotations

import argparse
import logging
import time

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client, retrieve_raw
from core.errors import ConfigError, StripeError
from core.sync.backfill import needs_backfill
from core.sync.poll import AccountSync, SyncReport, key_fingerprint
from core.sync.ratelimit import PacedCaller, RetryPolicy, TokenBucket
from jobs.output import Output, emit
from jobs.runtime import Runtime, open_runtime

HELP = "sync Stripe events into the store (incremental, every account)"
log = logging.getLogger("ledgerdesk.sync")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the sync command."""
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--account", help="only this account (acct_... or 'platform')")
    parser.add_argument(
        "--no-backfill",
        action="store_true",
        help="do not backfill objects on first start",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        help="seconds before a Stripe request times out",
    )
    parser.add_argument(
        "--force", action="store_true", help="retry an account stopped by an auth error"
    )


def accounts_of(runtime: Runtime, only: str | None = None) -> list[str]:
    """The platform ("") and every connected account from STRIPE_ACCOUNTS, or just `only`."""
    every = ["", *runtime.settings.stripe_accounts]
    if only is None:
        return every
    wanted = "" if only in ("platform", "") else only
    if wanted not in every:
        raise ConfigError(
            f"--account {only} is not configured: add it to STRIPE_ACCOUNTS (comma-separated)."
        )
    return [wanted]


def build_account_sync(runtime: Runtime, account: str, *, timeout: float = 20.0) -> AccountSync:
    """An AccountSync wired to Stripe through a paced, retrying gateway."""
    settings = runtime.settings
    key = settings.require_stripe_key().reveal()
    client = make_client(settings, timeout=timeout)
    gateway = StripeGateway(client, account or None)
    caller = PacedCaller(TokenBucket(settings.effective_rate_limit, burst=5), RetryPolicy())
    return AccountSync(
        runtime.Session,
        caller,
        lambda resource, params: list_page_raw(gateway, resource, params),
        lambda resource, oid: retrieve_raw(gateway, resource, oid),
        account=account,
        key_tag=key_fingerprint(key),
    )


def reachable(runtime: Runtime, account: str, *, timeout: float = 20.0) -> bool:
    """One cheap read, retried briefly: does Stripe answer this account with this key?"""
    settings = runtime.settings
    gateway = StripeGateway(make_client(settings, timeout=timeout), account or None)
    caller = PacedCaller(TokenBucket(settings.effective_rate_limit, burst=5), RetryPolicy(3))
    try:
        caller.call(list_page_raw, gateway, "events", {"limit": 1})
    except StripeError as exc:
        log.warning(
            "account %s: not backfilling, Stripe did not answer: %s", account or "platform", exc
        )
        return False
    return True


def sync_all(
    runtime: Runtime,
    *,
    only: str | None = None,
    backfill: bool = True,
    timeout: float = 20.0,
    force: bool = False,
) -> list[SyncReport]:
    """One pass over the accounts; first start and stale cursors trigger a backfill."""
    reports = []
    for account in accounts_of(runtime, only):
        if backfill:
            with runtime.Session() as session:
                due = needs_backfill(session, account)
            # A backfill is hundreds of requests: only start one when Stripe answers at all, so
            # a wrong address or a bad key fails in seconds (the sync below records why).
            if due and reachable(runtime, account, timeout=timeout):
                from jobs.backfill import run_backfill

                run_backfill(runtime, account, since_days=90, timeout=timeout)
        report = build_account_sync(runtime, account, timeout=timeout).run(force=force)
        if report.needs_backfill and backfill:
            from jobs.backfill import run_backfill

            run_backfill(runtime, account, since_days=90, timeout=timeout)
        reports.append(report)
    return reports


def scheduled(runtime: Runtime) -> str:
    """The scheduler's sync job: one pass, a one-line summary; raises when every account failed."""
    reports = sync_all(runtime)
    line = "; ".join(r.summary() for r in reports)
    if reports and not any(r.ok for r in reports):
        raise RuntimeError(line)
    return line


def run(args: argparse.Namespace) -> int:
    """Run the sync once or in a loop at SYNC_INTERVAL_SECONDS."""
    runtime = open_runtime()
    interval = runtime.settings.sync_interval_seconds
    while True:
        started = time.monotonic()
        reports = sync_all(
            runtime,
            only=args.account,
            backfill=not args.no_backfill,
            timeout=args.timeout,
            force=args.force,
        )
        text = "\n".join(r.summary() for r in reports)
        emit(Output([r.as_dict() for r in reports], text), args.json, indent=False)
        failed = any(not r.ok for r in reports)
        if args.once:
            return 1 if failed else 0
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
