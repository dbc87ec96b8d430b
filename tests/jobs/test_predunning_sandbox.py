"""Pre-dunning from synced payment methods: after a first start, the card-update drafts are
exactly the account's cards on active subscriptions that expire this month or next."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.models.recovery import RecoveryDraft
from core.recovery.context import expiry_window
from core.sync.processing import load_handler_modules
from jobs.predunning import _run as run_predunning
from jobs.sync import sync_all
from tests.support.sandbox import running_sandbox
from tests.support.sync import list_all, sandbox_runtime

load_handler_modules()


def _expiring(gateway: StripeGateway) -> set[str]:
    """Subscriptions whose card (their own default, else the customer's) expires this month or
    next, read straight from the account."""
    window = set(expiry_window(datetime.now(UTC).date(), 1))
    customers = {
        c["id"]: c
        for c in list_all(
            gateway, "customers", expand=["data.invoice_settings.default_payment_method"]
        )
    }
    found = set()
    for sub in list_all(gateway, "subscriptions", expand=["data.default_payment_method"]):
        if sub["status"] not in ("active", "trialing") or sub.get("cancel_at_period_end"):
            continue
        pm = sub.get("default_payment_method")
        if not isinstance(pm, dict):
            settings = customers[sub["customer"]].get("invoice_settings") or {}
            pm = settings.get("default_payment_method")
        card = pm.get("card") if isinstance(pm, dict) else None
        if card and (card["exp_year"], card["exp_month"]) in window:
            found.add(sub["id"])
    return found


def test_predunning_drafts_equal_the_accounts_expiring_cards(db_url: str, tmp_path: Path) -> None:
    with running_sandbox(customers=200, days=730) as server:
        rt = sandbox_runtime(db_url, server.url, tmp_path / "data")
        expected = _expiring(StripeGateway(make_client(rt.settings)))
        (report,) = sync_all(rt, timeout=5)
        assert report.ok, report.summary()
        made = run_predunning(rt)
        with rt.Session() as s:
            drafted = set(
                s.scalars(
                    select(RecoveryDraft.subscription_id).where(RecoveryDraft.kind == "predunning")
                )
            )
    assert len(expected) >= 5  # a mature account always has some
    assert drafted == expected and made == len(expected)
