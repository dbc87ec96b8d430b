"""`python -m jobs audit verify|export` with the audit key and anchors, as an operator runs them."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from core.db import make_engine
from tests.support.cli import run_jobs

ROOT = Path(__file__).resolve().parents[2]


def cli(db_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_jobs(data_dir, *args, database_url=db_url)


def sql(db_url: str, statement: str) -> None:
    engine = make_engine(db_url) if db_url.startswith("sqlite") else create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_verify_and_export_through_the_cli(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("dana", "erin", "finn"):
        assert cli(db_url, data, "users", "add", name, "--role", "approver").returncode == 0
    key_file = data / "audit.key"
    key = key_file.read_text().strip()
    assert len(key) == 64 and stat.S_IMODE(key_file.stat().st_mode) == 0o600

    out = tmp_path / "audit.csv"
    exported = cli(db_url, data, "audit", "export", "-o", str(out))
    assert exported.returncode == 0 and "audit trail head: 3 entries" in exported.stdout
    assert (tmp_path / "audit.csv.head.json").exists() and (data / "audit-anchors.jsonl").exists()
    ok = cli(db_url, data, "audit", "verify")
    assert ok.returncode == 0 and "3 entries verified, matches the head anchored" in ok.stdout
    status = cli(db_url, data, "status")
    shown = [exported.stdout, exported.stderr, ok.stdout, status.stdout, status.stderr]
    files = [out, tmp_path / "audit.csv.head.json", data / "audit-anchors.jsonl"]
    assert all(key not in s for s in shown) and all(key not in f.read_text() for f in files)

    sql(db_url, "DELETE FROM audit_log WHERE id = 3")
    cut = cli(db_url, data, "audit", "verify")
    assert cut.returncode == 1 and len(cut.stdout.strip().splitlines()) == 1
    assert "newest entries were deleted" in cut.stdout

    sql(db_url, "DELETE FROM audit_log")
    emptied = cli(db_url, data, "audit", "verify")
    assert emptied.returncode == 1 and "newest entries were deleted" in emptied.stdout

    key_file.write_text("c3" * 32 + "\n")
    wrong = cli(db_url, data, "audit", "verify")
    assert wrong.returncode == 1 and "audit key is not the one" in wrong.stdout
    key_file.unlink()
    missing = cli(db_url, data, "audit", "verify")
    assert missing.returncode == 2 and "AUDIT_KEY_FILE" in missing.stderr
    assert "Traceback" not in missing.stderr and not key_file.exists()
