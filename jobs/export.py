"""`python -m jobs export <report> --format csv|xlsx|pdf [--from --to] [--out PATH]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import InputError
from core.reports import REPORTS, get_report
from core.reports.run import parse_day, render_report
from core.reports.writers import check_format
from jobs.output import Output
from jobs.runtime import open_runtime

HELP = "export a report (" + ", ".join(sorted(REPORTS)) + ") as CSV, XLSX or PDF"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Report name, format, period and where to write."""
    parser.add_argument("report", help="which report: " + ", ".join(sorted(REPORTS)))
    parser.add_argument("--format", default="csv", help="csv, xlsx or pdf (default csv)")
    parser.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD")
    parser.add_argument(
        "--out", type=Path, help="file or folder to write (default: current folder)"
    )


def run(args: argparse.Namespace) -> Output:
    """Validate everything before opening the database, then render and write the file."""
    get_report(args.report)
    check_format(args.format)
    date_from = parse_day(args.date_from, "--from")
    date_to = parse_day(args.date_to, "--to")
    if date_from and date_to and date_from > date_to:
        raise InputError(f"--from {date_from} is after --to {date_to}: swap them.")
    rt = open_runtime()
    with rt.Session() as session:
        report = render_report(session, rt.settings, args.report, args.format, date_from, date_to)
    out: Path = args.out or Path.cwd()
    path = out / report.filename if out.is_dir() else out
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(report.data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}; choose another --out.") from None
    data = {"report": report.name, "format": report.fmt, "rows": report.rows,
            "path": str(path), "bytes": len(report.data)}  # fmt: skip
    return Output(data, f"{report.title}: {report.rows} rows → {path}")
