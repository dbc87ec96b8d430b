"""`python -m jobs journal build|list|export`: journal batches for the books.

python -m jobs journal build [--by day|payout] [--from D] [--to D]
python -m jobs journal list [--json]
python -m jobs journal export BATCH --format qbo|xero|netsuite [--force] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.books.data import get_object, objects_of_type
from core.books.journal import export_batch, list_batches, suspense_categories
from core.books.journal_build import build_day_batches, build_payout_batch
from core.books.journal_export import FORMATS
from core.books.ledger_mapping import unmapped_hint
from core.books.payouts import reconciliations
from core.errors import InputError
from core.models.books import JournalBatch
from core.reports.run import parse_day
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "build journal batches and export them for QuickBooks Online, Xero or NetSuite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-actions: build, list, export."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="action")
    b = sub.add_parser("build", help="(re)build unexported batches from balance transactions")
    b.add_argument("--by", choices=("day", "payout"), default="day", help="batch per day or payout")
    b.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
    b.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD")
    b.add_argument(
        "--rebuild",
        action="store_true",
        help="map unexported day batches afresh (after changing the chart of accounts)",
    )
    sub.add_parser("list", help="list batches and whether they were exported")
    e = sub.add_parser("export", help="export one batch (refused twice unless --force)")
    e.add_argument("batch", help="batch id or key, e.g. 12 or day:platform:2026-01-05")
    e.add_argument("--format", required=True, help="qbo, xero or netsuite")
    e.add_argument("--force", action="store_true", help="export again, marked as a re-export")
    e.add_argument("--out", type=Path, help="file or folder (default: current folder)")


def run(args: argparse.Namespace) -> Output:
    """Run the chosen action in one transaction."""
    if args.action == "export" and args.format not in FORMATS:
        raise InputError(
            f"unknown journal format {args.format!r}: choose one of {', '.join(FORMATS)}."
        )
    rt = open_runtime()
    if args.action == "build":
        return _build(rt, args)
    if args.action == "list":
        with rt.Session() as session:
            batches = list_batches(session)
        lines = [*(_batch_line(b) for b in batches), f"{len(batches)} batch(es)"]
        return Output([_batch(b) for b in batches], "\n".join(lines))
    with rt.Session.begin() as session:
        exported = export_batch(session, rt.settings, args.batch, args.format, force=args.force)
    out: Path = args.out or Path.cwd()
    path = out / exported.filename if out.is_dir() else out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(exported.data)
    tag = " (re-export)" if exported.reexport else ""
    return Output(
        {"path": str(path), "rows": exported.rows, "reexport": exported.reexport},
        f"journal batch {args.batch}: {exported.rows} lines → {path}{tag}",
    )


def _batch(b: JournalBatch) -> dict[str, Any]:
    return {
        "id": b.id,
        "key": b.key,
        "kind": b.kind,
        "account": b.account or "platform",
        "period_date": b.period_date,
        "payout_id": b.payout_id,
        "entries": b.entry_count,
        "exported_at": b.exported_at,
        "export_count": b.export_count,
    }


def _batch_line(b: JournalBatch) -> str:
    state = f"exported x{b.export_count}" if b.exported_at else "not exported"
    return f"{b.id:>5}  {b.key:<40} {b.entry_count:>6} entries  {state}"


def _build(rt: Runtime, args: argparse.Namespace) -> Output:
    date_from, date_to = (
        parse_day(args.date_from, "--from"),
        parse_day(args.date_to, "--to"),
    )
    with rt.Session.begin() as session:
        if args.by == "day":
            batches = build_day_batches(
                session, rt.settings, date_from, date_to, rebuild=args.rebuild
            )
        else:
            payouts = {p["id"]: p for p in objects_of_type(session, "payout")}
            batches = []
            for r in reconciliations(session, date_from, date_to):
                if r.payout_id in payouts and r.balance_transaction_ids:
                    found = (get_object(session, i) for i in r.balance_transaction_ids)
                    bts = [b for b in found if b]
                    batch = build_payout_batch(session, rt.settings, payouts[r.payout_id], bts)
                    if batch is not None:
                        batches.append(batch)
        unmapped = suspense_categories(session)
        summary = {
            "batches": len(batches),
            "entries": sum(b.entry_count for b in batches),
            "suspense": {u.category: u.entries for u in unmapped},
        }
    text = f"journal: {summary['batches']} batches, {summary['entries']} entries (re)built"
    if unmapped:
        listed = ", ".join(f"{u.category} ({u.entries})" for u in unmapped)
        text += (f"\nwarning: unknown reporting categories booked to suspense: {listed}; "
                 + unmapped_hint([u.category for u in unmapped]))  # fmt: skip
    return Output(summary, text)
