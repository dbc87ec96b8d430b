"""`python -m jobs import crm|tickets|bank|... FILE [--account acct_…] [--json]`: load context data
from a CSV export; a bank statement belongs to the platform unless `--account` names the
connected account it is for."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import InputError
from core.imports import IMPORTERS
from jobs.output import Output
from jobs.runtime import open_runtime

HELP = "import a CSV export (" + ", ".join(sorted(IMPORTERS)) + ") into the desk"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Which importer, which file, and the output format."""
    parser.add_argument("importer", choices=sorted(IMPORTERS), help="what the file holds")
    parser.add_argument(
        "file", type=Path, help="the CSV file (any common export; UTF-8 or Windows)"
    )
    parser.add_argument(
        "--account",
        metavar="ACCT",
        help="bank only: the connected account (acct_…) whose statement this is; "
        "default: the platform",
    )


def run(args: argparse.Namespace) -> Output:
    """Import the file in one transaction; exit 1 when some rows were rejected."""
    importer = IMPORTERS[args.importer]
    if not args.file.is_file():  # before touching the database
        raise InputError(f"{args.file} does not exist or is not a file.")
    options = {}
    if args.account is not None:
        if args.importer != "bank":
            raise InputError("--account applies to bank statements only.")
        options["account"] = args.account
    rt = open_runtime()
    with rt.Session.begin() as session:
        result = importer.run(session, args.file, **options)
    lines = [result.summary(), *(f"  line {e.line}: {e.message}" for e in result.errors[:20])]
    if result.error_count > 20:
        lines.append(f"  ... and {result.error_count - 20} more (use --json for all)")
    return Output(result.as_dict(), "\n".join(lines), 1 if result.error_count else 0)
