"""An invoice is linked to its payment by Stripe's own links, whatever order (and however many
times) the events arrive: two same-amount failures of one customer keep their own declines."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client, retrieve_raw
from core.models.recovery import RecoveryCase
from core.models.sync import SnapshotRefresh
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from core.sync.snapshots import refresh_requested
from core.sync.webhook_receiver import WebhookReceiver, WebhookServer
from jobs.runtime import Runtime, open_runtime
from jobs.sync import sync_all
from tests.conftest import settings_for
from tests.support.sandbox import SANDBOX_KEY, running_sandbox
from tests.support.sync import control, settle

load_handler_modules()


def _runtime(url: str, sandbox_url: str, folder: Path) -> Runtime:
    return open_runtime(
        settings_for(
            url,
            folder,
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=sandbox_url,
            LEDGERDESK_SANDBOX="1",
            STRIPE_RATE_LIMIT="500",
        )
    )


def _events_since(gateway: StripeGateway, ids: set[str]) -> list[dict[str, Any]]:
    """The events of the simulated failures, oldest first, as webhooks would carry them."""
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = list_page_raw(gateway, "events", params)
        out += [e for e in page["data"] if e["id"] in ids]
        if not page["has_more"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    return sorted(out, key=lambda e: (e["created"], sorted(ids).index(e["id"])))


def _deliver_and_settle(rt: Runtime, gateway: StripeGateway, events: list[dict[str, Any]]) -> None:
    """Webhook deliveries one at a time, processing in between; then what the scheduler does
    over the next minutes: fetch what the events asked for, process the retries."""
    for ev in events:
        with rt.Session.begin() as s:
            ingest_events(s, [ev], source="webhook")
        process_batch(rt.Session, settings=rt.settings)
    _settle_fetches(rt, gateway)


def _settle_fetches(rt: Runtime, gateway: StripeGateway) -> None:
    process_batch(rt.Session, settings=rt.settings)
    for minutes in (5, 10, 20):
        refresh_requested(
            rt.Session,
            lambda resource, oid: retrieve_raw(gateway, resource, oid),
            lambda resource, params: list_page_raw(gateway, resource, params),
            account="",
        )
        later = datetime.now(UTC) + timedelta(minutes=minutes)
        process_batch(rt.Session, settings=rt.settings, now=later)
    with rt.Session() as s:
        assert s.scalar(select(func.count()).select_from(SnapshotRefresh)) == 0


def _cases(rt: Runtime) -> dict[str, tuple[Any, ...]]:
    with rt.Session() as s:
        return {
            c.invoice_id: (c.bucket, c.charge_id, c.payment_intent_id, c.status, c.raw_code)
            for c in s.scalars(select(RecoveryCase))
        }


def test_reversed_and_duplicated_deliveries_give_the_cases_of_the_in_order_ones(
    tmp_path: Path,
) -> None:
    with running_sandbox(customers=12, days=20) as server:
        rt_a = _runtime(f"sqlite:///{tmp_path / 'a.db'}", server.url, tmp_path / "a")
        gateway = StripeGateway(make_client(rt_a.settings))
        first = control(
            server.url,
            "simulate/payment_failed",
            {"decline_code": "expired_card", "amount": "4200"},
        )
        customer = retrieve_raw(gateway, "charges", first["charge"])["customer"]
        second = control(
            server.url,
            "simulate/payment_failed",
            {"decline_code": "stolen_card", "amount": "4200", "customer": customer},
        )
        ids = set(first["events"]) | set(second["events"])
        in_order = _events_since(gateway, ids)
        assert {e["type"] for e in in_order} >= {"invoice.payment_failed", "charge.failed"}
        _deliver_and_settle(rt_a, gateway, in_order)

        rt_b = _runtime(f"sqlite:///{tmp_path / 'b.db'}", server.url, tmp_path / "b")
        shuffled = list(reversed(in_order)) + random.Random(3).sample(in_order, len(in_order))
        _deliver_and_settle(rt_b, gateway, shuffled)

    cases = _cases(rt_a)
    assert cases == _cases(rt_b)
    assert cases[first["invoice"]][0] == "card_data"
    assert cases[second["invoice"]][0] == "fraud_related"
    assert cases[first["invoice"]][1] != cases[second["invoice"]][1]  # each its own charge


SECRET = "whsec_links_test"


def test_webhooks_delivered_reversed_and_twice_give_the_cases_the_poll_gives(
    tmp_path: Path,
) -> None:
    with running_sandbox(customers=12, days=20) as server:
        rt_poll = _runtime(f"sqlite:///{tmp_path / 'poll.db'}", server.url, tmp_path / "p")
        gateway = StripeGateway(make_client(rt_poll.settings))
        first = control(
            server.url,
            "simulate/payment_failed",
            {"decline_code": "incorrect_cvc", "amount": "990"},
        )
        customer = retrieve_raw(gateway, "charges", first["charge"])["customer"]
        second = control(
            server.url,
            "simulate/payment_failed",
            {"decline_code": "lost_card", "amount": "990", "customer": customer},
        )
        ids = [*first["events"], *second["events"]]
        # Stripe's webhooks: signed, in reverse order, every event delivered twice.
        rt_hook = _runtime(f"sqlite:///{tmp_path / 'hook.db'}", server.url, tmp_path / "h")
        receiver = WebhookServer(WebhookReceiver(rt_hook.Session, [SECRET]))
        receiver.start()
        try:
            out = control(
                server.url,
                "webhooks/deliver",
                {
                    "url": receiver.url,
                    "secret": SECRET,
                    "events": ",".join(ids),
                    "order": "reversed",
                    "duplicates": str(len(ids)),
                },
            )
        finally:
            receiver.stop()
        assert out["delivered"] == 2 * len(ids) and out["statuses"] == {"200": 2 * len(ids)}
        _settle_fetches(rt_hook, gateway)
        # The same account read by polling, in order.
        assert all(r.ok for r in sync_all(rt_poll))
        settle(rt_poll)
    polled = {
        k: v for k, v in _cases(rt_poll).items() if k in (first["invoice"], second["invoice"])
    }
    assert _cases(rt_hook) == polled
    assert polled[first["invoice"]][0] == "card_data"
    assert polled[second["invoice"]][0] == "fraud_related"
