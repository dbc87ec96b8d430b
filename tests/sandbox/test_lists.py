"""Stripe's list semantics through the real stripe client: order, cursors, limits, filters, window."""

from __future__ import annotations

import time

import pytest
import stripe

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.conftest import make_client


def test_events_newest_first_and_pagination_both_ways(client: stripe.StripeClient) -> None:
    first = client.v1.events.list({"limit": 5})
    assert first.has_more is True and len(first.data) == 5
    keys = [e.created for e in first.data]
    assert keys == sorted(keys, reverse=True)
    older = client.v1.events.list({"limit": 5, "starting_after": first.data[-1].id})
    assert older.data[0].created <= first.data[-1].created
    assert not {e.id for e in older.data} & {e.id for e in first.data}
    # ending_before walks forward in time: the page just newer than the cursor, newest first.
    back = client.v1.events.list({"limit": 5, "ending_before": older.data[0].id})
    assert [e.id for e in back.data] == [e.id for e in first.data]
    assert back.has_more is False


def test_auto_paging_with_ending_before_yields_oldest_to_newest(
    client: stripe.StripeClient,
) -> None:
    all_ids = [e.id for e in client.v1.events.list({"limit": 100}).auto_paging_iter()]
    assert len(all_ids) == len(set(all_ids)) > 100
    cursor = all_ids[150] if len(all_ids) > 150 else all_ids[-1]
    forward = [
        e.id
        for e in client.v1.events.list({"limit": 7, "ending_before": cursor}).auto_paging_iter()
    ]
    newer = all_ids[: all_ids.index(cursor)]
    assert forward == list(reversed(newer))


def test_event_ids_not_time_ordered_and_seconds_shared(client: stripe.StripeClient) -> None:
    events = client.v1.events.list({"limit": 100}).data
    ids = [e.id for e in events]
    assert ids != sorted(ids) and ids != sorted(ids, reverse=True)
    createds = [e.created for e in events]
    assert len(set(createds)) < len(createds)  # many events share one second
    assert {e.api_version for e in events} == {"2026-10-28.endive"}
    assert all("request" in e and e.data.object.id for e in events)


@pytest.mark.parametrize(
    "limit, message", [(0, "greater than or equal to 1"), (101, "less than or equal to 100")]
)
def test_limit_bounds(client: stripe.StripeClient, limit: int, message: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.list({"limit": limit})
    assert message in str(exc.value) and exc.value.param == "limit" and exc.value.http_status == 400


def test_limit_100_and_has_more(client: stripe.StripeClient) -> None:
    # balance transactions: several per payment, so well over 100 on the 40-customer account
    page = client.v1.balance_transactions.list({"limit": 100})
    assert len(page.data) == 100 and page.has_more is True
    assert client.v1.customers.list({"limit": 100}).has_more is False  # 40 customers


def test_unknown_parameter_rejected_with_param(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.events.list({"colour": "blue"})  # type: ignore[typeddict-unknown-key]
    assert (
        exc.value.http_status == 400
        and exc.value.param == "colour"
        and exc.value.code == "parameter_unknown"
    )
    assert exc.value.json_body["error"]["type"] == "invalid_request_error"


def test_created_filters(client: stripe.StripeClient) -> None:
    events = client.v1.events.list({"limit": 100}).data
    pivot = events[50].created
    gte = client.v1.events.list({"limit": 100, "created": {"gte": pivot}}).data
    assert gte and all(e.created >= pivot for e in gte)
    lt = client.v1.events.list({"limit": 100, "created": {"lt": pivot}}).data
    assert lt and all(e.created < pivot for e in lt)
    exact = client.v1.invoices.list({"created": events[0].created}).data
    assert all(i.created == events[0].created for i in exact)


def test_type_and_types_filters(client: stripe.StripeClient) -> None:
    failed = client.v1.events.list({"type": "invoice.payment_failed", "limit": 100}).data
    assert failed and {e.type for e in failed} == {"invoice.payment_failed"}
    both = client.v1.events.list(
        {"types": ["charge.failed", "charge.succeeded"], "limit": 100}
    ).data
    assert {e.type for e in both} == {"charge.failed", "charge.succeeded"}
    wildcard = client.v1.events.list({"type": "charge.dispute.*", "limit": 100}).data
    assert wildcard and all(e.type.startswith("charge.dispute.") for e in wildcard)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.list({"types": [f"x.{n}" for n in range(21)]})


def test_thirty_day_window_list_and_retrieve(
    sbx: SandboxServer, client: stripe.StripeClient
) -> None:
    acct = sbx.state.platform
    window = acct.window_start()
    old = next(e for e in acct.iter_type("event") if e["created"] < window)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.events.retrieve(old["id"])
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    assert client.v1.events.list({"created": {"lte": old["created"]}}).data == []
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.events.list({"ending_before": old["id"]})
    assert exc.value.http_status == 404 and exc.value.param == "ending_before"
    oldest_listed = list(client.v1.events.list({"limit": 100}).auto_paging_iter())[-1]
    assert oldest_listed.created >= window
    # the objects themselves stay retrievable however old they are
    oldest_customer = next(iter(acct.iter_type("customer")))
    assert oldest_customer["created"] < window
    assert client.v1.customers.retrieve(oldest_customer["id"]).id == oldest_customer["id"]


def test_window_moves_with_the_injected_clock() -> None:
    offset = [0.0]
    base = time.time()
    cfg = SandboxConfig(port=0, seed=3, customers=8, days=40, now=lambda: base + offset[0])
    with SandboxServer(cfg) as srv:
        cl = make_client(srv.url)
        newest = cl.v1.events.list({"limit": 1}).data[0]
        assert cl.v1.events.retrieve(newest.id).id == newest.id
        offset[0] = 31 * 86400.0
        with pytest.raises(stripe.InvalidRequestError):
            cl.v1.events.retrieve(newest.id)
        assert cl.v1.events.list({"limit": 5}).data == []


def test_object_filters_and_expand(client: stripe.StripeClient) -> None:
    charge = client.v1.charges.list({"limit": 1}).data[0]
    by_customer = client.v1.charges.list({"customer": charge.customer, "limit": 100}).data
    assert by_customer and all(c.customer == charge.customer for c in by_customer)
    subs = client.v1.subscriptions.list({"limit": 100}).data
    sub = next(s for s in subs if s.latest_invoice)  # a trial may not have billed yet
    invoices = client.v1.invoices.list({"subscription": sub.id, "limit": 100}).data
    assert invoices and all(i.parent.subscription_details.subscription == sub.id for i in invoices)
    inv = client.v1.invoices.list(
        {"status": "paid", "limit": 1, "expand": ["data.customer", "data.payments"]}
    )
    one = inv.data[0]
    assert one.customer.object == "customer"
    pi = one.payments.data[0].payment.payment_intent
    deep = client.v1.invoices.retrieve(one.id, {"expand": ["payments.data.payment.payment_intent"]})
    assert deep.payments.data[0].payment.payment_intent.id == pi
    assert deep.payments.data[0].payment.payment_intent.latest_charge.startswith("ch_")
    with pytest.raises(stripe.InvalidRequestError, match="more than 4 levels"):
        client.v1.invoices.retrieve(
            one.id, {"expand": ["payments.data.payment.payment_intent.latest_charge"]}
        )
    assert "payments" not in client.v1.invoices.retrieve(one.id)  # includable only when expanded
    sub = client.v1.subscriptions.list({"limit": 1, "expand": ["data.latest_invoice"]}).data[0]
    assert sub.latest_invoice is None or sub.latest_invoice.object == "invoice"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.list({"expand": ["customer"]})


def test_subscriptions_default_excludes_canceled(client: stripe.StripeClient) -> None:
    default = client.v1.subscriptions.list({"limit": 100}).data
    assert all(s.status != "canceled" for s in default)
    everything = client.v1.subscriptions.list({"limit": 100, "status": "all"}).data
    assert len(everything) == 40 and any(s.status == "canceled" for s in everything)


def test_balance_transactions_by_payout(client: stripe.StripeClient) -> None:
    payout = next(
        p
        for p in client.v1.payouts.list({"limit": 100}).auto_paging_iter()
        if p.automatic and p.status == "paid"
    )
    assert payout.reconciliation_status == "completed"
    txns = list(
        client.v1.balance_transactions.list({"payout": payout.id, "limit": 100}).auto_paging_iter()
    )
    contents = [t for t in txns if t.type != "payout"]
    assert contents and sum(t.net for t in contents) == payout.amount
    assert all(t.reporting_category for t in txns)
    fees = [t for t in contents if t.type == "charge"]
    assert fees and all(t.fee > 0 and t.net == t.amount - t.fee for t in fees)
    only_charges = client.v1.balance_transactions.list(
        {"payout": payout.id, "type": "charge", "limit": 100}
    ).data
    assert {t.type for t in only_charges} == {"charge"}


def test_starting_after_unknown_id_is_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.events.list({"starting_after": "evt_doesnotexist"})
    assert exc.value.http_status == 404 and exc.value.param == "starting_after"


def test_balance(client: stripe.StripeClient) -> None:
    balance = client.v1.balance.retrieve()
    assert balance.object == "balance" and balance.available[0].currency == "usd"


def test_updated_events_carry_previous_attributes(client: stripe.StripeClient) -> None:
    updated = client.v1.events.list({"type": "customer.subscription.updated", "limit": 20}).data
    assert updated and all("status" in e.data.previous_attributes for e in updated)
    failed = client.v1.events.list({"type": "invoice.payment_failed", "limit": 20}).data
    assert failed and all(e.data.object.attempt_count >= 1 for e in failed)
    assert all("next_payment_attempt" in e.data.object for e in failed)
    resp = client.v1.events.list({"limit": 1}).last_response
    assert resp.headers["Stripe-Version"] and resp.headers["Request-Id"].startswith("req_")
