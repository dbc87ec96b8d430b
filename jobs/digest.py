"""`python -m jobs digest [--day YYYY-MM-DD] [--json]`: write (and mail) the daily digest."""

from __future__ import annotations

import argparse

from core.db import reading
from core.reports.digest import write_digest
from core.reports.run import parse_day
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "write yesterday's reports to the digest folder and mail them when SMTP is set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The day to run for (the digest covers the day before it) and the output format."""
    parser.add_argument("--day", help="run as if today were this day, YYYY-MM-DD")


def run(args: argparse.Namespace) -> Output:
    """Write the digest; exit 1 when a report could not be produced."""
    day = parse_day(args.day, "--day")
    rt = open_runtime()
    with reading(rt.Session) as reader, rt.Session.begin() as session:
        result = write_digest(session, rt.settings, day, reader=reader)
    data = {"day": result.day.isoformat(), "folder": str(result.folder),
            "files": [str(f) for f in result.files], "failed": result.failed,
            "mailed": result.mailed}  # fmt: skip
    return Output(data, result.summary(), 1 if result.failed else 0)


def scheduled(runtime: Runtime) -> str:
    """The scheduler's daily run."""
    with reading(runtime.Session) as reader, runtime.Session.begin() as session:
        return write_digest(session, runtime.settings, reader=reader).summary()
