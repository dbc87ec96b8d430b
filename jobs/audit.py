"""`python -m jobs audit verify|export`: check the keyed chain and its anchored head, or export.

`verify` walks the chain with the audit key and holds it against the newest anchor
(AUDIT_ANCHOR_FILE); `export` also anchors the head and, with --output, writes it beside the CSV
as <output>.head.json.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime, timedelta
from pathlib import Path

from core.errors import InputError
from core.governance import anchors, audit
from core.models.base import utcnow
from jobs.output import Output
from jobs.runtime import open_runtime

HELP = "verify the audit log's hash chain, or export it as CSV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands verify and export."""
    sub = parser.add_subparsers(dest="op", metavar="op", required=True)
    sub.add_parser(
        "verify", help="detect edited, deleted, reordered or re-hashed entries and a cut tail"
    )
    e = sub.add_parser("export", help="write the log as CSV")
    e.add_argument("--output", "-o", help="file to write (default: standard output)")
    e.add_argument("--actor", default="")
    e.add_argument("--action", default="", help="action prefix, e.g. action. or sign_in")
    e.add_argument("--target", default="")
    e.add_argument("--since-days", type=int, help="only the last N days")


def _filter(args: argparse.Namespace) -> audit.AuditFilter:
    since: datetime | None = None
    if args.since_days is not None:
        if args.since_days <= 0:
            raise InputError("--since-days must be a positive number of days.")
        since = utcnow() - timedelta(days=args.since_days)
    return audit.AuditFilter(
        actor=args.actor, action=args.action, target=args.target, date_from=since
    )


def run(args: argparse.Namespace) -> Output | int:
    """Verify (exit 1 when broken) or export (with --json and no --output: the entries)."""
    runtime = open_runtime()
    anchor_file = runtime.settings.audit_anchor_path
    with runtime.Session() as session:
        if args.op == "verify":
            result = anchors.verify_trail(session, anchor_file)
            data = {
                "ok": result.ok,
                "checked": result.checked,
                "broken_id": result.broken_id,
                "problem": result.problem,
                "anchored_at": result.anchored_at,
            }
            return Output(data, result.summary(), 0 if result.ok else 1)
        lines = audit.iter_csv(session, _filter(args))
        if args.json and not args.output:
            return Output(list(csv.DictReader(lines)))
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as fh:
                count = sum(1 for line in lines if fh.write(line)) - 1
        else:
            for line in lines:
                sys.stdout.write(line)
        head, checked = anchors.anchor_head(session, anchor_file)
    if not args.output:
        return 0
    if head is not None:
        anchors.write_head_file(Path(args.output + ".head.json"), head)
    state = head.summary() if head else f"head not anchored ({checked.summary()})"
    data = {"entries": count, "path": args.output, "head": state}
    return Output(data, f"exported {count} audit entries to {args.output}; {state}")
