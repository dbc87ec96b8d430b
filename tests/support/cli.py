"""Run `python -m jobs ...` as a user would: a subprocess with only the settings given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_jobs(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m jobs *args` on a SQLite file in `tmp_path`, nothing from the developer's env."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ld.db'}",
        "LEDGERDESK_DATA_DIR": str(tmp_path),
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
