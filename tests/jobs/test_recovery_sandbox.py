"""Recovery against the sandbox over HTTP: sync real-shaped events, process, classify, recover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.models.recovery import RecoveryCase, RecoveryDraft
from core.sync.processing import load_handler_modules
from jobs.runtime import open_runtime
from jobs.sync import sync_all
from tests.conftest import settings_for
from tests.support.sandbox import SANDBOX_KEY, running_sandbox
from tests.support.sync import control, sandbox_runtime, settle

load_handler_modules()


@pytest.fixture(scope="module")
def small_sandbox() -> Any:
    with running_sandbox(customers=12, days=20) as server:
        yield server


def test_simulated_failures_become_classified_cases_and_payment_recovers(
    small_sandbox: Any, sqlite_url: str, tmp_path: Path
) -> None:
    settings = settings_for(
        sqlite_url,
        tmp_path,
        STRIPE_API_KEY=SANDBOX_KEY,
        STRIPE_API_BASE=small_sandbox.url,
        LEDGERDESK_SANDBOX="1",
        STRIPE_RATE_LIMIT="500",
    )
    rt = open_runtime(settings)
    expected = {
        "expired_card": "card_data",
        "stolen_card": "fraud_related",
        "authentication_required": "authentication_required",
    }
    invoices = {}
    for code in expected:
        out = control(
            small_sandbox.url, "simulate/payment_failed", {"decline_code": code, "amount": "4200"}
        )
        invoices[code] = out["invoice"]
    assert all(r.ok for r in sync_all(rt))
    settle(rt)
    with rt.Session() as s:
        cases = {c.invoice_id: c for c in s.scalars(select(RecoveryCase))}
        for code, bucket in expected.items():
            case = cases[invoices[code]]
            assert (case.status, case.bucket) == ("open", bucket), (code, case.decline)
            assert case.hosted_invoice_url and case.amount_remaining == 4200
    paid_inv = invoices["expired_card"]
    control(small_sandbox.url, "simulate/invoice_paid", {"invoice": paid_inv})
    assert all(r.ok for r in sync_all(rt))
    settle(rt)
    with rt.Session() as s:
        case = s.scalars(select(RecoveryCase).where(RecoveryCase.invoice_id == paid_inv)).one()
        assert case.status == "recovered" and case.recovered_amount == 4200
        open_drafts = s.scalars(
            select(RecoveryDraft).where(
                RecoveryDraft.case_id == case.id,
                RecoveryDraft.status.in_(("draft", "edited", "requested")),
            )
        ).all()
        assert open_drafts == []


def test_the_first_load_opens_every_failed_payment_case_in_one_processing_pass(
    db_url: str, tmp_path: Path
) -> None:
    """The first load lists invoice payments too: an invoice names none of its payments itself
    (since 2025), so without them every failed invoice of the window waited for its own fetch."""
    from core.models.sync import Event
    from core.sync.processing import process_batch

    with running_sandbox(customers=60, days=45) as server:
        rt = sandbox_runtime(db_url, server.url, tmp_path)
        assert all(r.ok for r in sync_all(rt))
    while process_batch(rt.Session, settings=rt.settings).claimed:
        pass
    with rt.Session() as s:
        failed = set(
            s.scalars(
                select(Event.object_id).where(Event.type == "invoice.payment_failed").distinct()
            )
        )
        waiting = s.scalars(select(Event.type).where(Event.status != "processed")).all()
        cases = set(s.scalars(select(RecoveryCase.invoice_id)))
    assert len(failed) >= 3, "the account should have failed payments in its 30-day window"
    assert waiting == []
    assert failed <= cases
