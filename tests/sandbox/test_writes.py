"""Writes with Stripe's validation and idempotency semantics."""

from __future__ import annotations

import io
import time

import pytest
import stripe

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.conftest import control, make_client


def _fresh_charge(client: stripe.StripeClient) -> stripe.Charge:
    return next(
        c
        for c in client.v1.charges.list({"limit": 100}).auto_paging_iter()
        if c.status == "succeeded" and not c.refunded and not c.disputed and c.amount_refunded == 0
    )


def _open_dispute(client: stripe.StripeClient, url: str) -> stripe.Dispute:
    """A new dispute awaiting a response (the demo history keeps only one or two open)."""
    made = control(url, "/_sandbox/simulate/dispute_created", {"reason": "fraudulent"})
    dispute = client.v1.disputes.retrieve(made["dispute"])
    assert dispute.status == "needs_response"
    return dispute


def test_refund_idempotent_replay_and_conflict(
    sbx: SandboxServer, client: stripe.StripeClient
) -> None:
    charge = _fresh_charge(client)
    replays_before = control(sbx.url, "/_sandbox/stats")["idempotent_replays"]
    first = client.v1.refunds.create(
        {"charge": charge.id, "amount": 100}, options={"idempotency_key": "rf-1"}
    )
    again = client.v1.refunds.create(
        {"charge": charge.id, "amount": 100}, options={"idempotency_key": "rf-1"}
    )
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert client.v1.charges.retrieve(charge.id).amount_refunded == 100  # money moved once
    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.refunds.create(
            {"charge": charge.id, "amount": 200}, options={"idempotency_key": "rf-1"}
        )
    assert (
        exc.value.http_status == 400 and exc.value.json_body["error"]["type"] == "idempotency_error"
    )
    assert control(sbx.url, "/_sandbox/stats")["idempotent_replays"] == replays_before + 1
    events = client.v1.events.list(
        {"types": ["charge.refunded", "refund.created"], "limit": 5}
    ).data
    assert {e.type for e in events[:2]} == {"charge.refunded", "refund.created"}
    assert events[0].request.idempotency_key == "rf-1"


def test_refund_over_amount_and_missing_target(client: stripe.StripeClient) -> None:
    charge = _fresh_charge(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create({"charge": charge.id, "amount": charge.amount + 1})
    assert exc.value.param == "amount" and exc.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create({})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create({"charge": "ch_missing"})
    assert exc.value.http_status == 404 and exc.value.param == "charge"
    full = client.v1.refunds.create(
        {"payment_intent": charge.payment_intent, "reason": "duplicate"}
    )
    assert full.amount == charge.amount and full.balance_transaction.startswith("txn_")
    assert client.v1.charges.retrieve(charge.id).refunded is True
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create({"charge": charge.id})
    assert exc.value.code == "charge_already_refunded"


def test_dispute_evidence_stage_then_submit(
    sbx: SandboxServer, client: stripe.StripeClient
) -> None:
    dispute = _open_dispute(client, sbx.url)
    blob = io.BytesIO(b"%PDF-1.4 receipt")
    blob.name = "receipt.pdf"
    upload = client.v1.files.create({"purpose": "dispute_evidence", "file": blob})
    assert (
        upload.purpose == "dispute_evidence"
        and upload.size == 16
        and upload.filename == "receipt.pdf"
    )
    assert upload.type == "pdf" and upload.url.startswith(sbx.url)
    staged = client.v1.disputes.update(
        dispute.id, {"evidence": {"receipt": upload.id, "customer_name": "A"}, "submit": False}
    )
    assert staged.status == "needs_response" and staged.evidence_details.submission_count == 0
    assert staged.evidence.receipt == upload.id and staged.evidence_details.has_evidence is True
    since = control(sbx.url, "/_sandbox/requests")["latest"]
    submitted = client.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "see receipt"}}
    )
    assert submitted.status == "under_review" and submitted.evidence_details.submission_count == 1
    log = control(sbx.url, f"/_sandbox/requests?since={since}")["requests"]
    assert [r["path"] for r in log] == [f"/v1/disputes/{dispute.id}"] and "submit" not in log[0][
        "params"
    ]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.update(dispute.id, {"evidence": {"customer_name": "B"}})
    updated = client.v1.events.list({"type": "charge.dispute.updated", "limit": 1}).data[0]
    assert updated.data.previous_attributes.status == "needs_response"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.disputes.update(
            _open_dispute(client, sbx.url).id, {"evidence": {"receipt": "file_nope"}}
        )
    assert exc.value.param == "evidence[receipt]"


def test_close_dispute_accepts_loss(sbx: SandboxServer, client: stripe.StripeClient) -> None:
    dispute = _open_dispute(client, sbx.url)
    closed = client.v1.disputes.close(dispute.id)
    assert closed.status == "lost"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.close(dispute.id)
    assert (
        client.v1.events.list({"type": "charge.dispute.closed", "limit": 1}).data[0].data.object.id
        == dispute.id
    )


def test_cancel_subscription_and_pay_invoice(client: stripe.StripeClient) -> None:
    sub = client.v1.subscriptions.list({"status": "active", "limit": 1}).data[0]
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.canceled_at
    assert client.v1.events.list({"limit": 1}).data[0].type == "customer.subscription.deleted"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(sub.id)
    paid = client.v1.invoices.list({"status": "paid", "limit": 1}).data[0]
    with pytest.raises(stripe.InvalidRequestError, match="already paid"):
        client.v1.invoices.pay(paid.id)


def test_pay_invoice_decline_is_402_card_error(
    sbx: SandboxServer, client: stripe.StripeClient
) -> None:
    made = control(sbx.url, "/_sandbox/simulate/payment_failed", {"decline_code": "stolen_card"})
    with pytest.raises(stripe.CardError) as exc:
        client.v1.invoices.pay(made["invoice"], options={"idempotency_key": "pay-1"})
    assert exc.value.http_status == 402 and exc.value.code == "card_declined"
    assert exc.value.json_body["error"]["decline_code"] == "stolen_card"
    with pytest.raises(stripe.CardError):  # the executed failure is replayed, not retried
        client.v1.invoices.pay(made["invoice"], options={"idempotency_key": "pay-1"})
    assert client.v1.invoices.retrieve(made["invoice"]).attempt_count == 2
    soft = control(
        sbx.url, "/_sandbox/simulate/payment_failed", {"decline_code": "insufficient_funds"}
    )
    assert client.v1.invoices.pay(soft["invoice"]).status == "paid"


def test_customer_credit(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.list({"limit": 1}).data[0]
    txn = client.v1.customers.balance_transactions.create(
        customer.id, {"amount": -2500, "currency": "usd", "description": "goodwill credit"}
    )
    assert txn.amount == -2500 and txn.ending_balance == customer.balance - 2500
    assert client.v1.customers.retrieve(customer.id).balance == customer.balance - 2500
    listed = client.v1.customers.balance_transactions.list(customer.id).data
    assert listed[0].id == txn.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.balance_transactions.create(customer.id, {"currency": "usd"})  # type: ignore[typeddict-item]
    assert exc.value.param == "amount"


def test_file_upload_validation(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.files.create({"purpose": "selfie", "file": io.BytesIO(b"x")})  # type: ignore[typeddict-item]
    assert exc.value.param == "purpose"
    listed = client.v1.files.list({"purpose": "dispute_evidence"}).data
    assert all(f.purpose == "dispute_evidence" for f in listed)


def test_idempotency_keys_expire_after_24_hours() -> None:
    offset = [0.0]
    base = time.time()
    cfg = SandboxConfig(port=0, seed=5, customers=12, days=40, now=lambda: base + offset[0])
    with SandboxServer(cfg) as srv:
        client = make_client(srv.url)
        customer = client.v1.customers.list({"limit": 1}).data[0]
        params = {"amount": -100, "currency": "usd"}
        first = client.v1.customers.balance_transactions.create(
            customer.id, params, options={"idempotency_key": "credit-1"}
        )
        offset[0] = 23 * 3600.0
        with pytest.raises(stripe.IdempotencyError):
            client.v1.customers.balance_transactions.create(
                customer.id,
                {"amount": -200, "currency": "usd"},
                options={"idempotency_key": "credit-1"},
            )
        offset[0] = 25 * 3600.0
        second = client.v1.customers.balance_transactions.create(
            customer.id, params, options={"idempotency_key": "credit-1"}
        )
        assert second.id != first.id  # forgotten after 24 h: the request ran again
