"""`python -m jobs import crm|tickets FILE`: exit codes, one-line errors, --json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_jobs


def test_import_crm_json_then_reimport(tmp_path: Path) -> None:
    f = tmp_path / "crm.csv"
    f.write_text(
        "Email,Account Name,Owner\na@x.io,Acme,Ana\nnot-an-email,Bad,Ana\n",
        encoding="utf-8",
    )
    first = run_jobs(tmp_path, "import", "crm", str(f), "--json")
    assert first.returncode == 1, first.stderr  # one row rejected → non-zero, good rows loaded
    out = json.loads(first.stdout)
    assert (out["inserted"], out["rejected"], out["errors"][0]["line"]) == (1, 1, 3)
    again = run_jobs(tmp_path, "import", "crm", str(f))
    assert "0 new, 1 updated, 1 rejected" in again.stdout
    assert "line 3: email" in again.stdout


def test_import_tickets_clean_file_exits_zero(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        "Id,Requester email,Subject,Status,Created at\n1,a@x.io,Help,open,2026-11-01\n",
        encoding="utf-8",
    )
    result = run_jobs(tmp_path, "import", "tickets", str(f))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("help-desk tickets: 1 rows read, 1 new")


def test_missing_file_and_missing_columns_are_one_line_errors(tmp_path: Path) -> None:
    missing = run_jobs(tmp_path, "import", "crm", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "does not exist" in missing.stderr
    f = tmp_path / "wrong.csv"
    f.write_text("foo,bar\n1,2\n", encoding="utf-8")
    wrong = run_jobs(tmp_path, "import", "tickets", str(f))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "no column for ticket_id" in wrong.stderr


def test_import_bank_for_a_connected_account(tmp_path: Path) -> None:
    f = tmp_path / "bank.csv"
    f.write_text("Date,Amount,Reference\n2026-01-10,50.00,TR1\n", encoding="utf-8")
    ok = run_jobs(tmp_path, "import", "bank", str(f), "--account", "acct_1Conn", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["inserted"] == 1
    again = run_jobs(tmp_path, "import", "bank", str(f))  # the platform's own statement
    assert again.returncode == 0 and "1 new" in again.stdout, again.stdout + again.stderr
    bad = run_jobs(tmp_path, "import", "bank", str(f), "--account", "1Conn")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "not an account id" in bad.stderr
    wrong = run_jobs(tmp_path, "import", "crm", str(f), "--account", "acct_1Conn")
    assert wrong.returncode == 2 and "bank statements only" in wrong.stderr
