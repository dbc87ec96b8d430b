"""`python -m jobs import crm|tickets FILE [--json]`: load context data from a CSV export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.errors import InputError
from core.imports import IMPORTERS
from jobs.runtime import open_runtime

HELP = "import a CSV export (" + ", ".join(sorted(IMPORTERS)) + ") into the desk"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Which importer, which file, and the output format."""
    parser.add_argument("importer", choices=sorted(IMPORTERS), help="what the file holds")
    parser.add_argument(
        "file", type=Path, help="the CSV file (any common export; UTF-8 or Windows)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Import the file in one transaction; exit 1 when some rows were rejected."""
    importer = IMPORTERS[args.importer]
    if not args.file.is_file():  # before touching the database
        raise InputError(f"{args.file} does not exist or is not a file.")
    rt = open_runtime()
    with rt.Session.begin() as session:
        result = importer.run(session, args.file)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.summary())
        for err in result.errors[:20]:
            print(f"  line {err.line}: {err.message}")
        if result.error_count > 20:
            print(f"  ... and {result.error_count - 20} more (use --json for all)")
    return 1 if result.error_count else 0
