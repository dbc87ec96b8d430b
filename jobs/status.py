"""`python -m jobs status`: sync health per account, the queue and webhook rejects."""

from __future__ import annotations

import argparse
import json

from core.reports.status import STATUS_SECTIONS, status_report
from core.sync.health import account_health
from jobs.runtime import open_runtime

HELP = "show sync health: cursor, lag, counters, queue and dead letters per account"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the status command."""
    parser.add_argument("--json", action="store_true", help="print every section as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the status; exit 1 when an account is failing or stopped."""
    runtime = open_runtime()
    with runtime.Session() as session:
        report = status_report(session, runtime.settings)
        accounts = account_health(session, runtime.settings)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for a in accounts:
            lag = "n/a" if a.lag_seconds is None else f"{a.lag_seconds:.0f}s"
            last = a.last_success_at.strftime("%Y-%m-%d %H:%M:%S") if a.last_success_at else "never"
            print(
                f"{a.label}: {a.status.upper()} last success {last} lag {lag} "
                f"events/h {a.events_last_hour} duplicates {a.duplicates} retries {a.retries} "
                f"errors {a.errors}" + (f" — {a.last_error}" if a.last_error else "")
            )
        q = report["queue"]
        print(
            f"queue: pending {q['pending']} retrying {q['retrying']} dead {q['dead']} "
            f"processed {q['processed']}; webhook rejects {report['webhook_rejects'] or 'none'}"
        )
        s = report["storage"]
        last = f" — last at {s['last_at']}: {s['last_error']}" if s["errors"] else ""
        print(f"storage: check {s['check']}; errors {s['errors']}{last}")
        for name in STATUS_SECTIONS:
            if name not in ("accounts", "queue", "webhook_rejects", "dead_letters", "storage"):
                print(f"{name}: {json.dumps(report[name])}")
    healthy = all(a.status in ("ok", "never") for a in accounts)
    return 0 if healthy and report["storage"]["check"] == "ok" else 1
