"""`python -m jobs outbox deliver|list`: send queued emails and alerts, at most once each."""

from __future__ import annotations

import argparse

from core.adapters import outbox
from core.governance import deliveries
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "deliver queued emails (SMTP) and alerts (Slack), or list the outbox"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands deliver and list."""
    sub = parser.add_subparsers(dest="op", metavar="op", required=True)
    sub.add_parser("deliver", help="send what is due")
    ls = sub.add_parser("list", help="show recent messages")
    ls.add_argument("--status", choices=outbox.STATUSES)


def scheduled(runtime: Runtime) -> str:
    """Scheduler entry: deliver what is due."""
    return deliveries.deliver(runtime.Session, runtime.settings).summary()


def run(args: argparse.Namespace) -> Output:
    """Deliver or list; exit 1 when a message failed for good."""
    runtime = open_runtime()
    if args.op == "deliver":
        report = deliveries.deliver(runtime.Session, runtime.settings)
        return Output(report.counts, report.summary(), 1 if report.counts.get("failed") else 0)
    with runtime.Session() as session:
        rows = [
            {
                "id": m.id,
                "channel": m.channel,
                "to": m.recipient,
                "subject": m.subject,
                "status": m.status,
                "attempts": m.attempts,
                "error": m.last_error,
            }
            for m in outbox.list_messages(session, args.status)
        ]
    lines = [
        f"#{r['id']:<5} {r['channel']:<5} {r['status']:<8} {r['to']:<30} {r['subject']}"
        for r in rows
    ]
    return Output(rows, "\n".join([*lines, f"{len(rows)} message(s)"]))
