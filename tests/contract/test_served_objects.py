"""Every object the sandbox serves conforms to stripe-python's annotations for its type.

Each list endpoint is walked to the end over HTTP (with the expansions clients ask for), every
listable event is read with the object it carries, and each object is checked against the SDK's
resource class: no field the SDK does not annotate, no annotated non-Optional field missing,
no enum value outside the SDK's Literal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.support import stripe_contract as contract

KEY = "sk_test_sandbox"
# (list path, extra params): every list endpoint the sandbox serves.
LISTS: list[tuple[str, dict[str, Any]]] = [
    ("customers", {"expand[]": "data.invoice_settings.default_payment_method"}),
    ("products", {}),
    ("prices", {}),
    ("subscriptions", {"status": "all", "expand[]": "data.default_payment_method"}),
    ("invoices", {"expand[]": "data.payments"}),
    ("invoice_payments", {}),
    ("payment_intents", {}),
    ("payment_methods", {}),
    ("charges", {"expand[]": "data.balance_transaction"}),
    ("refunds", {}),
    ("disputes", {}),
    ("radar/early_fraud_warnings", {}),
    ("payouts", {}),
    ("balance_transactions", {}),
    ("events", {}),
    ("files", {}),
    ("accounts", {}),
]


@pytest.fixture(scope="module")
def sbx() -> Iterator[SandboxServer]:
    """Two years of history on a small account plus one connected account."""
    server = SandboxServer(
        SandboxConfig(port=0, seed=11, customers=40, days=730, connected_accounts=1)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _walk(url: str, path: str, params: dict[str, Any], account: str | None) -> Iterator[dict]:
    headers = {"Authorization": f"Bearer {KEY}"}
    if account:
        headers["Stripe-Account"] = account
    after = None
    while True:
        query = dict(params, limit="100", **({"starting_after": after} if after else {}))
        resp = requests.get(f"{url}/v1/{path}", params=query, headers=headers, timeout=30)
        assert resp.status_code == 200, (path, resp.text[:300])
        page = resp.json()
        yield from page["data"]
        if not page["has_more"]:
            return
        after = page["data"][-1]["id"]


def _shape(problem: str) -> str:
    """One line per kind of problem: ids, indexes and event types folded away."""
    problem = re.sub(r"\[\d+\]", "[]", problem)
    problem = re.sub(r"event\[[^\]]*\]", "event", problem)
    return re.sub(r"'[a-z]+_[A-Za-z0-9]{8,}'", "'<id>'", problem)


def _served(sbx: SandboxServer) -> Iterator[tuple[str, dict[str, Any]]]:
    accounts = [None] + [a for a, acct in sbx.state.accounts.items() if acct.connected]
    for account in accounts:
        for path, params in LISTS:
            for obj in _walk(sbx.url, path, params, account):
                yield path, obj
        customer = next(_walk(sbx.url, "customers", {}, account))
        for path in (
            f"customers/{customer['id']}/balance_transactions",
            f"customers/{customer['id']}/payment_methods",
        ):
            for obj in _walk(sbx.url, path, {}, account):
                yield path, obj


def test_every_served_object_conforms_to_the_sdk(sbx: SandboxServer) -> None:
    credit = requests.post(
        f"{sbx.url}/v1/customers/{next(_walk(sbx.url, 'customers', {}, None))['id']}"
        "/balance_transactions",
        data={"amount": "-500", "currency": "usd"},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    assert credit.status_code == 200, credit.text
    for kind in ("payment_failed", "invoice_paid", "dispute_created", "early_fraud_warning",
                 "payout", "subscription_canceled", "tick"):  # fmt: skip
        # Live activity goes through the same builders: its objects must conform too.
        resp = requests.post(f"{sbx.url}/_sandbox/simulate/{kind}", timeout=10)
        assert resp.status_code == 200, (kind, resp.text)
    problems: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for _path, obj in _served(sbx):
        seen[obj["object"]] += 1
        found = (
            contract.check_event(obj) if obj["object"] == "event" else contract.check_object(obj)
        )
        problems.update(_shape(p) for p in found)
    assert not problems, "\n".join(f"{n:6d}  {p}" for p, n in problems.most_common(40))
    expected = {
        "customer", "product", "price", "subscription", "invoice", "invoice_payment",
        "payment_intent", "payment_method", "charge", "refund", "dispute",
        "radar.early_fraud_warning", "payout", "balance_transaction", "event",
        "customer_balance_transaction", "account",
    }  # fmt: skip
    assert expected <= set(seen), expected - set(seen)


def test_retrieve_and_expand_conform_too(sbx: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    dispute = next(_walk(sbx.url, "disputes", {}, None))
    invoice = next(_walk(sbx.url, "invoices", {"status": "paid"}, None))
    gets = [
        (f"disputes/{dispute['id']}", {"expand[]": ["charge", "payment_intent"]}),
        (f"invoices/{invoice['id']}", {"expand[]": ["payments", "customer"]}),
        (f"charges/{dispute['charge']}", {"expand[]": ["balance_transaction", "customer"]}),
        ("balance", {}),
    ]
    problems = []
    for path, params in gets:
        resp = requests.get(f"{sbx.url}/v1/{path}", params=params, headers=headers, timeout=10)
        assert resp.status_code == 200, resp.text
        problems += contract.check_object(resp.json())
    assert problems == []


def test_the_checker_catches_a_broken_object(sbx: SandboxServer) -> None:
    """The tier is only worth trusting if it fails: break served objects on purpose."""
    dispute = next(_walk(sbx.url, "disputes", {}, None))
    broken = dict(dispute, surprise="x", status="pending_review")
    del broken["evidence_details"]
    found = contract.check_object(broken)
    assert any("surprise: field not in Dispute" in p for p in found)
    assert any("evidence_details: required by Dispute" in p for p in found)
    assert any("'pending_review' not one of" in p for p in found)
    assert contract.check_object(dict(dispute, reason="bored")) != []  # docstring enum
    nested = dict(dispute, evidence=dict(dispute["evidence"], extra_text="x"))
    assert contract.check_object(nested) == [
        "dispute.evidence.extra_text: field not in Dispute.Evidence"
    ]
    charge = requests.get(
        f"{sbx.url}/v1/charges/{dispute['charge']}",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    ).json()
    card = charge["payment_method_details"]["card"]
    bad = dict(
        charge,
        payment_method_details=dict(charge["payment_method_details"], card=dict(card, brand=7)),
    )
    assert contract.check_object(bad) != []
