"""`python -m jobs migrate`: bring the database schema up to date."""

from __future__ import annotations

import argparse

from core.config import redact_url
from core.db import current_revision
from jobs.output import Output
from jobs.runtime import open_runtime

HELP = "create or upgrade the database schema (Alembic migrations)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the database comes from DATABASE_URL."""


def run(args: argparse.Namespace) -> Output:
    """Migrate and print the revision."""
    rt = open_runtime()
    database, revision = redact_url(rt.settings.database_url), current_revision(rt.engine)
    return Output(
        {"database": database, "revision": revision}, f"database {database} at revision {revision}"
    )
