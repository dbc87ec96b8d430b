"""Books against the sandbox: backfill an account seeded with known mismatches, import its CSVs,
and check that payouts reconcile and every drift count equals the sandbox's truth report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.drift.checks import run_checks
from core.imports import IMPORTERS
from core.models.books import JournalLine, PayoutReconciliation
from jobs.backfill import run_backfill
from jobs.books import refresh
from jobs.runtime import Runtime, open_runtime
from tests.conftest import settings_for
from tests.support.sandbox import SANDBOX_KEY, running_sandbox

SEEDED = (
    "crm_missing_customer",
    "crm_mrr_mismatch",
    "crm_no_owner",
    "entitlement_active_but_canceled",
    "entitlement_revoked_but_paid",
    "bank_payout_missing",
    "bank_deposit_late",
    "bank_split_deposit",
)


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Runtime, dict[str, Any]]]:
    """A backfilled store plus the sandbox's CSV exports imported, and the truth report."""
    folder = tmp_path_factory.mktemp("books-sandbox")
    exports = folder / "exports"
    with running_sandbox(exports_dir=str(exports)) as server:
        settings = settings_for(
            f"sqlite:///{folder / 'ledgerdesk.db'}",
            folder,
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=server.url,
            LEDGERDESK_SANDBOX="1",
            STRIPE_RATE_LIMIT="200",
        )
        rt = open_runtime(settings)
        run_backfill(rt, "", since_days=3650, progress=False)
        with rt.Session.begin() as session:
            for name, file in (("crm", "crm_accounts.csv"), ("entitlements", "entitlements.csv"),
                               ("bank", "bank_statement.csv")):  # fmt: skip
                result = IMPORTERS[name].run(session, exports / file)
                assert result.error_count == 0, result.errors[:3]
        figures = refresh(rt)
        truth = json.loads((exports / "mismatches.json").read_text())
        yield rt, {"truth": truth, "figures": figures, "exports": exports}


def test_drift_counts_equal_the_seeded_mismatches(
    seeded: tuple[Runtime, dict[str, Any]],
) -> None:
    rt, ctx = seeded
    truth = ctx["truth"]
    with rt.Session() as session:
        checks = {c.name: c for c in run_checks(session, rt.settings)}
    got = {name: checks[name].count for name in SEEDED}
    want = {name: truth["counts"][name] for name in SEEDED}
    assert got == want
    for name in ("crm_missing_customer", "crm_mrr_mismatch", "bank_payout_missing"):
        assert sorted(i.key for i in checks[name].items) == sorted(truth["details"][name])
    assert checks["bank_unknown_deposit"].count == 0
    assert ctx["figures"]["drift"]["crm_no_owner"] == truth["counts"]["crm_no_owner"]


def test_payouts_reconcile_and_paid_then_failed_are_flagged(
    seeded: tuple[Runtime, dict[str, Any]],
) -> None:
    rt, _ = seeded
    with rt.Session() as session:
        rows = session.scalars(select(PayoutReconciliation)).all()
        states = {r.state for r in rows}
        assert rows and "mismatch" not in states
        done = [r for r in rows if r.state == "reconciled"]
        assert done and all(r.difference == 0 and r.net == r.amount for r in done)
        assert all(r.gross + r.fees + r.refunds + r.disputes + r.adjustments == r.net for r in done)
        failed = [r for r in rows if r.status == "failed"]
        assert all(r.state in ("paid_then_failed", "failed") for r in failed)
        debit, credit = session.execute(
            select(func.sum(JournalLine.debit), func.sum(JournalLine.credit))
        ).one()
        assert debit == credit and debit > 0


FIGURES = ("state", "gross", "fees", "refunds", "disputes", "adjustments", "net", "difference",
           "transaction_count", "balance_transaction_ids")  # fmt: skip


def test_a_second_refresh_reads_the_stored_transactions_and_agrees(
    seeded: tuple[Runtime, dict[str, Any]],
) -> None:
    """The first refresh fetched each completed payout's transactions from Stripe; the next one
    sums the stored ones (only the fields it needs) and must come to the same figures."""
    rt, _ = seeded

    def breakdown() -> dict[str, tuple[Any, ...]]:
        with rt.Session() as session:
            rows = session.scalars(select(PayoutReconciliation)).all()
            return {r.payout_id: tuple(getattr(r, f) for f in FIGURES) for r in rows}

    first = breakdown()
    again = refresh(rt)
    assert again["payouts_fetched"] == 0
    assert breakdown() == first
    assert sum(1 for v in first.values() if v[0] == "reconciled" and v[8] > 0) > 0


def test_export_cli_writes_readable_files(
    seeded: tuple[Runtime, dict[str, Any]], tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from openpyxl import load_workbook
    from pypdf import PdfReader

    rt, _ = seeded
    env = {**os.environ, "DATABASE_URL": rt.settings.database_url,
           "LEDGERDESK_DATA_DIR": str(rt.settings.data_dir)}  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    for fmt in ("xlsx", "pdf"):
        out = tmp_path / f"payouts.{fmt}"
        proc = subprocess.run(
            [sys.executable, "-m", "jobs", "export", "payout_reconciliation", "--format", fmt,
             "--out", str(out)], check=False, cwd=root, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    ws = load_workbook(tmp_path / "payouts.xlsx").active
    assert ws.cell(1, 1).value == "payout" and ws.max_row > 1
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "payouts.pdf").pages)
    assert "Payout reconciliation" in text and "po_" in text
    bad = subprocess.run(
        [sys.executable, "-m", "jobs", "export", "nope"], check=False, cwd=root, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown report 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr
