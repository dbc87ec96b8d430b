"""`python -m jobs sync`: pull new Stripe events for every account into the store."""

from __future__ import annotations

import argparse
import logging
import signal
import time

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client, retrieve_raw
from core.errors import ConfigError, StripeError
from core.sync import connect
from core.sync.backfill import needs_backfill
from core.sync.leases import LEASE_SECONDS, AccountLeases
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
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=LEASE_SECONDS,
        help="how long a worker's hold on an account lasts without renewal (default 60)",
    )


_LISTED: dict[str, float] = {}  # when this process last listed the connected accounts


def discover(runtime: Runtime, *, timeout: float = 20.0, now: float | None = None) -> list[str]:
    """STRIPE_ACCOUNTS=all: the platform's connected accounts as Stripe lists them, registered
    for the workers' leases; listed at most every DISCOVER_EVERY seconds per process. When the
    list cannot be read, the accounts registered last time stay (and the reason is logged)."""
    now = time.monotonic() if now is None else now
    listed_at = _LISTED.get(runtime.settings.database_url)
    if listed_at is None or now - listed_at >= connect.DISCOVER_EVERY:
        settings = runtime.settings
        gateway = StripeGateway(make_client(settings, timeout=timeout), None)
        caller = PacedCaller(TokenBucket(settings.effective_rate_limit, burst=5), RetryPolicy(3))
        try:
            found = connect.list_connected(
                lambda resource, params: caller.call(list_page_raw, gateway, resource, params)
            )
        except StripeError as exc:
            log.warning("connected accounts not listed, syncing those found before: %s", exc)
        else:
            AccountLeases(runtime.Session).register(["", *found])
            _LISTED[runtime.settings.database_url] = now
            log.info("connected accounts listed: %d", len(found))
    with runtime.Session() as session:
        return connect.synced_accounts(session, runtime.settings)


def accounts_of(runtime: Runtime, only: str | None = None) -> list[str]:
    """The platform ("") and every connected account the sync covers, or just `only`."""
    if runtime.settings.connect_all:
        every = discover(runtime)
    else:
        every = ["", *runtime.settings.stripe_accounts]
    if only is None:
        return every
    wanted = "" if only in ("platform", "") else only
    if wanted not in every:
        if runtime.settings.connect_all:
            raise ConfigError(
                f"--account {only} is not a connected account of this platform: Stripe does "
                "not list it under GET /v1/accounts (check the id in the Stripe dashboard)."
            )
        raise ConfigError(
            f"--account {only} is not configured: add it to STRIPE_ACCOUNTS (comma-separated)."
        )
    return [wanted]


def build_account_sync(
    runtime: Runtime, account: str, *, timeout: float = 20.0, bucket: TokenBucket | None = None
) -> AccountSync:
    """An AccountSync wired to Stripe through a paced, retrying gateway (`bucket`: a rate
    limit shared with a backfill running beside it)."""
    settings = runtime.settings
    key = settings.require_stripe_key().reveal()
    client = make_client(settings, timeout=timeout)
    gateway = StripeGateway(client, account or None)
    bucket = bucket or TokenBucket(settings.effective_rate_limit, burst=5)
    caller = PacedCaller(bucket, RetryPolicy())
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


def sync_account(
    runtime: Runtime,
    account: str,
    *,
    backfill: bool = True,
    timeout: float = 20.0,
    force: bool = False,
) -> SyncReport:
    """Sync one account; a first start and a stale cursor trigger a backfill."""
    report: SyncReport | None = None
    if backfill:
        with runtime.Session() as session:
            due = needs_backfill(session, account)
        # A backfill is hundreds of requests: only start one when Stripe answers at all, so
        # a wrong address or a bad key fails in seconds (the sync below records why).
        if due and reachable(runtime, account, timeout=timeout):
            from jobs.backfill import backfill_beside_walk, backfill_bucket

            # The event sync runs beside the backfill, both under one rate limit.
            bucket = backfill_bucket(runtime.settings.effective_rate_limit)
            sync = build_account_sync(runtime, account, timeout=timeout, bucket=bucket)
            report = backfill_beside_walk(
                runtime, account, sync, bucket, timeout=timeout, force=force
            )
    if report is None:
        report = build_account_sync(runtime, account, timeout=timeout).run(force=force)
    if report.needs_backfill and backfill:
        from jobs.backfill import run_backfill

        run_backfill(runtime, account, since_days=90, timeout=timeout)
    return report


def sync_all(
    runtime: Runtime,
    *,
    only: str | None = None,
    backfill: bool = True,
    timeout: float = 20.0,
    force: bool = False,
    leases: AccountLeases | None = None,
    every: float | None = None,
) -> list[SyncReport]:
    """Sync every due account this worker can lease (see core.sync.leases).

    Without `every`, one pass: each account not synced since the pass began, unless another
    worker holds it. With `every` (a looping worker): each account last synced that long ago.
    """
    chosen = accounts_of(runtime, only)
    leases = leases or AccountLeases(runtime.Session)
    leases.register(accounts_of(runtime))
    threshold = leases.start() if every is None else None
    reports: list[SyncReport] = []
    with leases.renewing():
        while True:
            account = leases.claim(
                threshold=threshold, every=every, only=chosen[0] if only is not None else None
            )
            if account is None:
                return reports
            try:
                reports.append(
                    sync_account(runtime, account, backfill=backfill, timeout=timeout, force=force)
                )
            except BaseException:
                leases.abandon()
                raise
            leases.release(account)


def scheduled(runtime: Runtime) -> str:
    """The scheduler's sync job: one pass, a one-line summary; raises when every account failed."""
    reports = sync_all(runtime)
    line = "; ".join(r.summary() for r in reports)
    if reports and not any(r.ok for r in reports):
        raise RuntimeError(line)
    return line


def run(args: argparse.Namespace) -> int:
    """One pass (`--once`), or a worker that syncs each account once per SYNC_INTERVAL_SECONDS.

    Any number of workers, on one machine or several sharing one database, split the accounts
    between them through their leases.
    """
    if not args.lease_seconds > 0:
        raise ConfigError("--lease-seconds must be a positive number of seconds, e.g. 60.")
    runtime = open_runtime()
    interval = float(runtime.settings.sync_interval_seconds)
    leases = AccountLeases(runtime.Session, seconds=args.lease_seconds)
    if not args.once:  # a stopped worker hands its accounts back at once, not at expiry
        signal.signal(signal.SIGTERM, _interrupt)
    while True:
        reports = sync_all(
            runtime,
            only=args.account,
            backfill=not args.no_backfill,
            timeout=args.timeout,
            force=args.force,
            leases=leases,
            every=None if args.once else interval,
        )
        if reports or args.once:
            text = "\n".join(r.summary() for r in reports) or NOTHING_DUE
            emit(Output([r.as_dict() for r in reports], text), args.json, indent=False)
        if args.once:
            return 1 if any(not r.ok for r in reports) else 0
        time.sleep(leases.seconds_until_due(interval))


NOTHING_DUE = (
    "nothing to sync: other workers hold the accounts, or synced them since this pass began"
)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
