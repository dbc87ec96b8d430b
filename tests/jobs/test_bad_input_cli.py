"""Bad input through the real CLI: one clear line on stderr, no traceback, nothing lost silently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT, run_jobs

PAGE = 32_768  # core.db.SQLITE_PAGE_SIZE


def one_line(stderr: str) -> str:
    """The single `error: ...` line a failed command prints, and nothing else."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


# --- CSV structure ----------------------------------------------------------------------------


def test_an_unbalanced_quote_rejects_its_line_and_the_rows_after_it_load(tmp_path: Path) -> None:
    f = tmp_path / "crm.csv"
    f.write_text(
        "Email,Account Name,Owner\n"
        "a@x.io,Acme,Ana\n"
        'b@x.io,"Beta Inc,Bob\n'  # the quote is never closed ...
        "c@x.io,Gamma,Cy\n"  # ... and used to swallow these rows into Beta's name
        "d@x.io,Delta,Dee\n",
        encoding="utf-8",
    )
    result = run_jobs(tmp_path, "import", "crm", str(f), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    out = json.loads(result.stdout)
    assert (out["inserted"], out["rejected"]) == (3, 1), out  # a, c and d; b listed
    assert out["errors"][0]["line"] == 3
    message = out["errors"][0]["message"]
    assert 'a quote (") opened on line 3 is not closed on its line' in message
    assert "lines 3–5 read as one row" in message

    # Closed much later, right before a line end: the strict reader cannot see it; the cell that
    # holds whole rows is the tell.
    g = tmp_path / "crm2.csv"
    g.write_text(
        'Email,Account Name,Owner\nb@x.io,"Beta Inc,Bob\ne@x.io,Epsilon,Eve"\nd@x.io,Delta,Dee\n',
        encoding="utf-8",
    )
    again = run_jobs(tmp_path, "import", "crm", str(g))
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    assert "1 new, 1 updated, 1 rejected" in again.stdout, again.stdout  # e new, d again
    assert "line 2: a quote" in again.stdout
    assert "lines 2–3 read as one row ('Account Name' holds whole rows)" in again.stdout

    # Closed on the next line before a cell's text: only the strict reader sees this one.
    h = tmp_path / "crm3.csv"
    h.write_text(
        'Email,Account Name,Owner\nb@x.io,"Beta Inc,Bob\nf@x.io,"Phi",Fay\ng@x.io,Gee,Gus\n',
        encoding="utf-8",
    )
    third = run_jobs(tmp_path, "import", "crm", str(h), "--json")
    out = json.loads(third.stdout)
    assert (out["inserted"], out["rejected"], out["errors"][0]["line"]) == (2, 1, 2), out
    assert "the csv reader says" in out["errors"][0]["message"]


def test_a_quoted_multi_line_note_is_still_one_good_row(tmp_path: Path) -> None:
    f = tmp_path / "crm.csv"
    f.write_text(
        'Email,Account Name,Owner\na@x.io,"Acme\nHoldings",Ana\nb@x.io,Beta,Bob\n',
        encoding="utf-8",
    )
    result = run_jobs(tmp_path, "import", "crm", str(f))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rows read, 2 new, 0 updated, 0 rejected" in result.stdout


def test_a_used_column_named_twice_refuses_the_file_with_one_line(tmp_path: Path) -> None:
    f = tmp_path / "crm.csv"
    f.write_text(
        "Email,Account Name,Owner,Notes,Notes,E-mail,email\na@x.io,Acme,Ana,,,,b@x.io\n",
        encoding="utf-8",
    )
    result = run_jobs(tmp_path, "import", "crm", str(f))
    assert result.returncode == 2, result.stdout
    line = one_line(result.stderr)
    assert "Line 1" in line and "'Email' is in columns 1, 7" in line
    assert "Notes" not in line  # an unused column named twice is only ignored
    assert result.stdout == ""


def test_a_two_million_character_name_is_refused_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "crm.csv"
    f.write_text(
        "Email,Account Name,Owner\n"
        "a@x.io,Acme,Ana\n"
        f"b@x.io,{'N' * 2_000_000},Bob\n"
        f"c@x.io,Gamma,{'O' * 20_000}\n"
        "d@x.io,Delta,Dee\n",
        encoding="utf-8",
    )
    result = run_jobs(tmp_path, "import", "crm", str(f), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    out = json.loads(result.stdout)
    assert (out["inserted"], out["rejected"]) == (2, 2), out
    assert [(e["line"], e["message"].split(" is ")[0]) for e in out["errors"]] == [
        (3, "name"),
        (4, "owner"),
    ]
    assert "2,000,000 characters long; the limit is 10,000" in out["errors"][0]["message"]
    assert len(result.stdout) < 5_000  # the cell is not echoed back


# --- settings and the data folder -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STRIPE_RATE_LIMIT", "nan"),
        ("STRIPE_RATE_LIMIT", "inf"),
        ("DRIFT_MRR_TOLERANCE_PCT", "NaN"),
        ("DRIFT_MRR_TOLERANCE_PCT", "-inf"),
        ("SYNC_INTERVAL_SECONDS", "1e999"),
    ],
)
def test_numeric_settings_refuse_nan_and_infinity(tmp_path: Path, name: str, value: str) -> None:
    result = run_jobs(tmp_path, "status", **{name: value})
    assert result.returncode == 2
    assert name in one_line(result.stderr)


def test_an_uncreatable_data_folder_is_one_line(tmp_path: Path) -> None:
    for extra in ({}, {"AUDIT_KEY_FILE": str(tmp_path / "audit.key")}):
        # DATABASE_URL empty: the database goes into the data folder, as by default.
        result = run_jobs(
            tmp_path, "status", LEDGERDESK_DATA_DIR="/proc/nope", DATABASE_URL="", **extra
        )
        assert result.returncode == 2
        line = one_line(result.stderr)
        assert "LEDGERDESK_DATA_DIR='/proc/nope' cannot be created" in line


# --- a closed pipe ----------------------------------------------------------------------------


def test_output_to_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    assert run_jobs(tmp_path, "migrate").returncode == 0
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ld.db'}",
        "LEDGERDESK_DATA_DIR": str(tmp_path),
    }
    for args in (["status"], ["audit", "export"], ["journal", "list"]):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the first line, as `| head -1` once it has one
        try:
            done = subprocess.run(
                [sys.executable, "-m", "jobs", *args],
                cwd=ROOT,
                env=env,
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            os.close(write)
        assert done.returncode in (0, 141), (args, done.returncode, done.stderr)
        assert done.stderr == "", (args, done.stderr)


# --- a damaged database -----------------------------------------------------------------------


def test_a_damaged_page_stops_every_command_with_one_line(tmp_path: Path) -> None:
    crm = tmp_path / "crm.csv"
    rows = "".join(f"c{i}@x.io,Account {i} {'x' * 200},Ana\n" for i in range(3_000))
    crm.write_text("Email,Account Name,Owner\n" + rows, encoding="utf-8")
    assert run_jobs(tmp_path, "import", "crm", str(crm)).returncode == 0
    db = tmp_path / "ld.db"
    assert run_jobs(tmp_path, "status").returncode == 0  # checkpointed, closed, healthy
    pages = db.stat().st_size // PAGE
    with db.open("r+b") as fh:  # garbage over a page in the middle of the file (the CRM rows)
        fh.seek(PAGE * (pages - 5))
        fh.write(os.urandom(PAGE))
    for args in (
        ["status"],
        ["sync", "--once"],
        ["export", "disputes", "--out", str(tmp_path / "d.csv")],
        ["audit", "verify"],
        ["process"],
    ):
        result = run_jobs(tmp_path, *args, STRIPE_API_KEY="sk_test_unused")
        assert result.returncode != 0, (args, result.stdout)
        line = one_line(result.stderr)
        assert "The database file is damaged" in line and str(db) in line, (args, line)
    counted = json.loads((tmp_path / "storage-errors.json").read_text())
    assert counted["errors"] == 5 and counted["last_kind"] == "corrupt"
