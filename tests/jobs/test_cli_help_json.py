"""Every `python -m jobs` command has a one-line help, and every one that prints data prints it as
JSON with `--json` (after the command, after a sub-command, or before the command)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from jobs.__main__ import main
from jobs.commands import COMMANDS, SERVERS, SUMMARY
from tests.support.cli import run_jobs
from tests.support.sandbox import SANDBOX_KEY, running_sandbox

# The sub-commands of each command that has them: each must take --json too.
OPS = {
    "users": ("add", "list", "set-role", "disable", "enable", "reset-password"),
    "audit": ("verify", "export"),
    "outbox": ("deliver", "list"),
    "journal": ("build", "list", "export"),
}


def test_the_command_list_gives_each_command_its_own_line() -> None:
    result = run_jobs(Path("/nonexistent"), "--help", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    listed = dict(re.findall(r"^    (\S+) +(\S.*)$", result.stdout, re.MULTILINE))
    assert listed == SUMMARY  # every command, its summary whole on one line of 80 columns
    assert SUMMARY.keys() == COMMANDS.keys()
    assert not [n for n, text in SUMMARY.items() if text == f"({n})"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_sub_command_has_help_and_json(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in [[name], *([name, op] for op in OPS.get(name, ()))]:
        try:
            code = main([*argv, "--help"])  # the sandbox's own parser returns
        except SystemExit as stop:  # argparse exits after printing the help
            code = stop.code
        assert code == 0, argv
        text = capsys.readouterr().out
        assert "usage: " in text, argv
        if name != "sandbox":  # the sandbox has a parser of its own
            assert ("--json" in text) is (name not in SERVERS), argv


def _json(tmp: Path, *args: str, code: int = 0, **env: str) -> Any:
    result = run_jobs(tmp, *args, "--json", **env)
    assert result.returncode == code, f"{args}: {result.stderr}"
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def test_every_data_command_prints_json(tmp_path: Path) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text("Email,Account Name,Owner\na@x.io,Acme,Ana\n", encoding="utf-8")
    done: set[str] = set()
    with running_sandbox(customers=12, days=20) as server:
        env = {
            "STRIPE_API_KEY": SANDBOX_KEY,
            "STRIPE_API_BASE": server.url,
            "LEDGERDESK_SANDBOX": "1",
            "STRIPE_RATE_LIMIT": "500",
        }

        def run(*args: str, code: int = 0) -> Any:
            done.add(f"{args[0]} {args[1]}" if args[0] in OPS else args[0])
            return _json(tmp_path, *args, code=code, **env)

        assert run("migrate")["revision"]
        assert run("sync", "--once")[0]["ok"] is True
        assert isinstance(run("backfill", "--since", "1d"), list)
        assert run("process", "--once")["claimed"] >= 0
        assert run("process", "--all-dead") == {"requeued": 0}
        assert {"accounts", "queue", "recovery"} <= run("status").keys()
        # --json given before the command is the same switch
        assert _json(tmp_path, "status", **env).keys() == run("status").keys()
        assert run("users", "add", "kim", "--role", "viewer")["one_time_password"]
        assert run("users", "list")[0]["username"] == "kim"
        assert run("users", "set-role", "kim", "operator")["role"] == "operator"
        assert run("users", "disable", "kim")["active"] is False
        assert run("users", "enable", "kim")["active"] is True
        assert run("users", "reset-password", "kim")["username"] == "kim"
        assert run("execute", "--once") == []
        assert run("audit", "verify")["ok"] is True
        entries = run("audit", "export")
        assert entries and {"action", "actor"} <= entries[0].keys()
        out = str(tmp_path / "audit.csv")
        assert run("audit", "export", "--output", out)["entries"] == len(entries)
        assert isinstance(run("outbox", "deliver"), dict)
        assert isinstance(run("outbox", "list"), list)
        assert run("import", "crm", str(crm))["inserted"] == 1
        assert run("predunning").keys() == {"new_drafts"}
        assert run("dunning") == {"sent": [], "stopped": {}, "waiting": {}}
        assert "sent" in run("reminders")
        assert "journal_batches" in run("books")
        assert "read_models" in run("books", "--read-models")
        assert run("journal", "build")["batches"] >= 0
        batches = run("journal", "list")
        assert batches and {"id", "key", "entries", "exported_at"} <= batches[0].keys()
        exported = run("journal", "export", str(batches[0]["id"]), "--format", "xero", "--out",
                       str(tmp_path))  # fmt: skip
        assert exported["reexport"] is False and Path(exported["path"]).is_file()
        assert run("export", "payout_reconciliation", "--out", str(tmp_path))["format"] == "csv"
        assert "failed" in run("digest", "--day", "2026-01-02")
        assert run("briefs") == {"model": False}  # no OPENAI_API_KEY here
    data_commands = set(COMMANDS) - SERVERS
    ops = {f"{name} {op}" for name, names in OPS.items() for op in names}
    assert done >= (data_commands - OPS.keys()) | ops, "a command printing data was not tried"
