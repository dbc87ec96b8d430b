"""`python -m jobs execute [--once]`: run approved actions against Stripe, exactly once each."""

from __future__ import annotations

import argparse
import time

from core.governance import actions
from core.governance.executor import DEFAULT_LEASE_SECONDS, ExecutionReport, run_pending
from jobs.output import Output, emit
from jobs.runtime import Runtime, open_runtime

HELP = "execute approved actions (re-read Stripe, call with idempotency keys, record results)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options for one run or a loop."""
    parser.add_argument("--once", action="store_true", help="run once and exit (default: loop)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between loop runs")
    parser.add_argument("--limit", type=int, default=50, help="actions per run")
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=DEFAULT_LEASE_SECONDS,
        help="how long an interrupted attempt is left alone before it is retried",
    )


def execute_once(
    runtime: Runtime, *, limit: int = 50, lease_seconds: float = DEFAULT_LEASE_SECONDS
) -> ExecutionReport:
    """One pass over due actions."""
    runtime.settings.require_stripe_key()
    return run_pending(runtime.Session, runtime.settings, limit=limit, lease_seconds=lease_seconds)


def scheduled(runtime: Runtime) -> str:
    """Scheduler entry: execute due actions; the summary line is logged."""
    return execute_once(runtime).summary()


def expire_scheduled(runtime: Runtime) -> str:
    """Scheduler entry: expire requests nobody decided on in time."""
    with runtime.Session.begin() as session:
        return f"expired {actions.expire_due(session)} action request(s)"


def _print(report: ExecutionReport, as_json: bool) -> None:
    outcomes = [{"action": a, "status": s, "note": n} for a, s, n in report.outcomes]
    emit(Output(outcomes, report.summary()), as_json, indent=False)  # one line per pass


def run(args: argparse.Namespace) -> int:
    """Run once, or every --interval seconds until stopped; non-zero when an action failed."""
    runtime = open_runtime()
    while True:
        report = execute_once(runtime, limit=args.limit, lease_seconds=args.lease_seconds)
        _print(report, args.json)
        if args.once:
            return 1 if report.count("failed") else 0
        time.sleep(args.interval)
