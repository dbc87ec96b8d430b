"""Run `python -m jobs ...` as a user would: a subprocess with only the settings given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_jobs(
    tmp_path: Path, *args: str, database_url: str | None = None, **settings: str
) -> subprocess.CompletedProcess[str]:
    """`python -m jobs *args` with `tmp_path` as the data folder (and, unless `database_url` is
    given, a SQLite file in it), plus `settings`; nothing from the developer's environment."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'ld.db'}",
        "LEDGERDESK_DATA_DIR": str(tmp_path),
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-m", "jobs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


def start_jobs(
    tmp_path: Path, *args: str, database_url: str, **settings: str
) -> subprocess.Popen[str]:
    """`python -m jobs *args` started in the background (a long-running worker), same settings
    rules as `run_jobs`; the caller stops it."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url,
        "LEDGERDESK_DATA_DIR": str(tmp_path),
        **settings,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "jobs", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
