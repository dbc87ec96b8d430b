"""A realistic store for the figures and report tests: a sandbox account backfilled and synced,
failed payments (some paid again), its CRM, entitlements and bank statement imported, plus a
second statement with deposits no payout explains, and the books job run once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from core.books import figures
from core.imports import IMPORTERS
from core.sync.processing import load_handler_modules
from jobs.backfill import run_backfill
from jobs.books import refresh
from jobs.sync import sync_all
from tests.support.governance import make_user
from tests.support.sandbox import running_sandbox
from tests.support.sync import control, sandbox_runtime, settle

DECLINES = ("insufficient_funds", "expired_card", "do_not_honor", "generic_decline")


def build_store(folder: Path) -> dict[str, Any]:
    """Build the store in `folder`; returns its runtime, URL, team's today and an admin."""
    load_handler_modules()
    exports = folder / "exports"
    url = f"sqlite:///{folder / 'ledgerdesk.db'}"
    with running_sandbox(exports_dir=str(exports), customers=60, days=60) as server:
        rt = sandbox_runtime(url, server.url, folder)
        run_backfill(rt, "", since_days=3650, progress=False)
        # Half the failed invoices bill the plan, half an amount of their own (usage, a
        # proration): MRR at risk is the subscriptions' monthly amount, not the invoices'.
        failed = [
            control(server.url, "simulate/payment_failed", {"decline_code": code, **extra})[
                "invoice"
            ]
            for code in DECLINES
            for extra in ({}, {"amount": "4275"})
        ]
        for invoice in failed[:3]:
            control(server.url, "simulate/invoice_paid", {"invoice": invoice})
        sync_all(rt)
        settle(rt)
        today = figures.team_today(rt.settings)
        day = lambda n: (today - timedelta(days=n)).isoformat()  # noqa: E731
        extra = (
            "date,amount,description,reference\n"
            f"{day(3)},1234.56,Customer wire,WIRE-7781\n"
            f"{day(40)},88.10,Interest,INT-2026\n"
            f"{day(200)},500.00,Old transfer,OLD-1\n"  # outside the bank window
            f"{day(5)},-75.00,Bank fee,FEE-1\n"  # a withdrawal, not a deposit
        )
        with rt.Session.begin() as session:
            for name, data in (
                ("crm", exports / "crm_accounts.csv"),
                ("entitlements", exports / "entitlements.csv"),
                ("bank", exports / "bank_statement.csv"),
                ("bank", extra.encode()),
            ):
                result = IMPORTERS[name].run(session, data)
                assert result.error_count == 0, result.errors[:3]
            admin = make_user(session, "figures_admin", "admin")
        refresh(rt)  # the books job: read models and today's drift counts
    return {"rt": rt, "url": url, "folder": folder, "today": today, "actor": admin}
