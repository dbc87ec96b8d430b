"""An event that refers to an object the store does not hold (older than the event window) does
not die: the sync fetches the object from Stripe, bounded per poll, and the event succeeds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client
from core.models.governance import ActionRequest
from core.models.sync import Event, SnapshotRefresh
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from core.sync.snapshots import PER_POLL, get_object
from jobs.sync import build_account_sync
from tests.support.sandbox import running_sandbox
from tests.support.sync import sandbox_runtime

DAY = 86_400


def _old_charges(gateway: StripeGateway, older_than: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": 100, "created": {"lt": older_than}}
    charges = list_page_raw(gateway, "charges", params)["data"]
    return [
        c
        for c in charges
        if c["status"] == "succeeded" and not c.get("refunded") and not c.get("disputed")
    ]


def _warning(n: int, charge: dict[str, Any], now: int) -> dict[str, Any]:
    efw = {
        "id": f"issfr_old{n}",
        "object": "radar.early_fraud_warning",
        "actionable": True,
        "charge": charge["id"],
        "fraud_type": "made_with_stolen_card",
        "created": now,
    }
    return {
        "id": f"evt_old_efw{n}",
        "object": "event",
        "type": "radar.early_fraud_warning.created",
        "created": now,
        "api_version": "2026-10-28.endive",
        "livemode": False,
        "data": {"object": efw},
    }


def test_a_warning_on_a_charge_older_than_the_window_fetches_the_charge(
    db_url: str, tmp_path: Path
) -> None:
    load_handler_modules()
    with running_sandbox(customers=30, days=120) as server:
        rt = sandbox_runtime(db_url, server.url, tmp_path / "data")
        gateway = StripeGateway(make_client(rt.settings))
        now = int(time.time())
        old = _old_charges(gateway, now - 40 * DAY)[: PER_POLL + 5]
        assert len(old) > PER_POLL  # more than one poll's worth of fetches
        with rt.Session.begin() as s:
            ingest_events(s, [_warning(n, c, now) for n, c in enumerate(old)], source="webhook")
        report = process_batch(rt.Session, settings=rt.settings)
        assert report.retrying == len(old) and report.dead == 0
        with rt.Session() as s:
            asked = set(s.scalars(select(SnapshotRefresh.object_id)))
            assert asked == {c["id"] for c in old}
            assert all(get_object(s, c["id"]) is None for c in old)
        # Each poll fetches a bounded number, oldest request first; two polls fetch them all.
        first = build_account_sync(rt, "").run()
        assert first.ok and first.refreshed == PER_POLL, first.summary()
        with rt.Session() as s:
            assert sum(get_object(s, c["id"]) is not None for c in old) == PER_POLL
        second = build_account_sync(rt, "").run()
        assert second.ok and PER_POLL >= second.refreshed >= len(old) - PER_POLL
        with rt.Session() as s:
            assert all(get_object(s, c["id"]) is not None for c in old)
        later = datetime.now(UTC) + timedelta(minutes=10)
        process_batch(rt.Session, settings=rt.settings, now=later)
        with rt.Session() as s:
            statuses = s.scalars(
                select(Event.status).where(Event.event_id.like("evt_old_efw%"))
            ).all()
            assert statuses == ["processed"] * len(old)
            refunds = s.scalars(
                select(ActionRequest).where(ActionRequest.action_type == "refund")
            ).all()
            amounts = {r.target_id: r.params["amount"] for r in refunds}
            assert {c["id"]: amounts.get(c["id"]) for c in old} == {
                c["id"]: c["amount"] - c["amount_refunded"] for c in old
            }
