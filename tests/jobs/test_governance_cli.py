"""The governance CLI commands: users, audit verify/export, outbox, execute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "LEDGERDESK_DATA_DIR": str(Path(db_url[10:]).parent),
    }
    for name in (
        "STRIPE_API_KEY",
        "STRIPE_API_BASE",
        "SMTP_URL",
        "SLACK_WEBHOOK_URL",
        "LEDGERDESK_SANDBOX",
    ):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "jobs", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_users_audit_and_outbox_commands(sqlite_url: str, tmp_path: Path) -> None:
    added = cli(
        sqlite_url,
        "users",
        "add",
        "dana",
        "--role",
        "approver",
        "--email",
        "dana@example.com",
    )
    assert added.returncode == 0 and "one-time password: " in added.stdout
    duplicate = cli(sqlite_url, "users", "add", "dana", "--role", "viewer")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr
    assert cli(sqlite_url, "users", "set-role", "dana", "admin").returncode == 0
    listed = json.loads(cli(sqlite_url, "users", "list", "--json").stdout)
    assert [(u["username"], u["role"], u["active"]) for u in listed] == [("dana", "admin", True)]

    verified = cli(sqlite_url, "audit", "verify")
    assert verified.returncode == 0 and "2 entries verified" in verified.stdout
    out = tmp_path / "audit.csv"
    exported = cli(sqlite_url, "audit", "export", "-o", str(out))
    assert exported.returncode == 0 and out.read_text().splitlines()[0].startswith("id,at,actor")

    import sqlite3

    with sqlite3.connect(sqlite_url[len("sqlite:///") :]) as conn:
        conn.execute("UPDATE audit_log SET target = 'user:eve' WHERE id = 1")
    broken = cli(sqlite_url, "audit", "verify")
    assert broken.returncode == 1 and "BROKEN at entry 1" in broken.stdout

    assert "0 message(s)" in cli(sqlite_url, "outbox", "list").stdout
    no_key = cli(sqlite_url, "execute", "--once")
    assert no_key.returncode == 2 and "STRIPE_API_KEY" in no_key.stderr
