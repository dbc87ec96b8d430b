"""Exactly once past Stripe's 24-hour idempotency window: an attempt whose answer was lost is
retried after the sandbox has forgotten its key, and each money executor finds what the first
attempt did instead of doing it again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import Settings
from core.db import make_engine, make_sessionmaker, migrate
from core.errors import StripeUnavailable
from core.governance import actions
from core.governance.actions import request_action
from core.governance.executor import METADATA_IDEMPOTENCY, execute_action
from core.models.governance import ActionRequest
from tests.conftest import settings_for
from tests.support.governance import make_team
from tests.support.sandbox import SANDBOX_KEY, running_sandbox
from tests.support.sync import control


class LostAnswer(StripeGateway):
    """The real gateway, except that the answer to the first write is lost after Stripe acted
    (a dropped connection): the attempt fails transiently and is retried later."""

    lost: set[str] = set()

    def _lose(self, name: str) -> None:
        if name not in self.lost:
            self.lost.add(name)
            raise StripeUnavailable("Could not reach Stripe: connection reset")

    def create_refund(self, **kwargs: Any) -> dict[str, Any]:
        made = super().create_refund(**kwargs)
        self._lose("refund")
        return made

    def create_customer_balance_transaction(self, customer_id: str, **kw: Any) -> dict[str, Any]:
        made = super().create_customer_balance_transaction(customer_id, **kw)
        self._lose("credit")
        return made

    def cancel_subscription(self, subscription_id: str, **kw: Any) -> dict[str, Any]:
        made = super().cancel_subscription(subscription_id, **kw)
        self._lose("cancel")
        return made

    def pay_invoice(self, invoice_id: str, **kw: Any) -> dict[str, Any]:
        made = super().pay_invoice(invoice_id, **kw)
        self._lose("retry")
        return made


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Any:
    with running_sandbox(customers=20, days=60) as server:
        settings = settings_for(
            db_url,
            tmp_path,
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=server.url,
            LEDGERDESK_SANDBOX="1",
        )
        engine = make_engine(db_url)
        migrate(engine)
        Session = make_sessionmaker(engine)
        with Session.begin() as s:
            team = make_team(s)
        yield server, settings, Session, team, StripeGateway(make_client(settings))
        engine.dispose()


def _run_twice_across_the_window(
    server: Any, settings: Settings, Session: sessionmaker[Session], action_id: int
) -> str | None:
    LostAnswer.lost = set()
    first = execute_action(
        Session,
        settings,
        action_id,
        gateway_factory=lambda s, account: LostAnswer(make_client(s)),
    )
    assert first == "retrying"
    control(server.url, "clock/advance", {"seconds": str(25 * 3600)})  # Stripe forgets the key
    later = datetime.now(UTC) + timedelta(hours=25)
    return execute_action(Session, settings, action_id, now=later)


def test_a_refund_is_not_made_twice_after_the_key_is_forgotten(env: Any) -> None:
    server, settings, Session, team, gw = env
    charge = next(
        c
        for c in gw.list_page("charges", {"limit": 100})["data"]
        if c["status"] == "succeeded" and not c["refunded"] and not c["disputed"]
    )
    with Session.begin() as s:
        action = request_action(
            s,
            team["operator"],
            action_type="refund",
            target_id=charge["id"],
            params={"charge": charge["id"], "amount": 300, "currency": charge["currency"]},
            reason="customer asked",
        )
        action_id = action.id
    with Session.begin() as s:
        actions.approve(s, team["approver"], action_id, "ok")
    assert _run_twice_across_the_window(server, settings, Session, action_id) == "succeeded"
    assert [r["amount"] for r in gw.list_refunds(charge=charge["id"])] == [300]


def test_a_credit_is_not_made_twice_after_the_key_is_forgotten(env: Any) -> None:
    server, settings, Session, team, gw = env
    customer = gw.list_page("customers", {"limit": 1})["data"][0]["id"]
    with Session.begin() as s:
        action = request_action(
            s,
            team["operator"],
            action_type="customer_credit",
            target_id=customer,
            params={"customer": customer, "amount": 700, "currency": "usd"},
            reason="goodwill credit",
        )
        action_id = action.id
    with Session.begin() as s:
        actions.approve(s, team["approver"], action_id, "ok")
    assert _run_twice_across_the_window(server, settings, Session, action_id) == "succeeded"
    page = gw.call(
        gw.client.v1.customers.balance_transactions.list, customer, {"limit": 100}, gw._options()
    )
    ours = [t for t in page["data"] if (t.get("metadata") or {}).get(METADATA_IDEMPOTENCY)]
    assert [t["amount"] for t in ours] == [-700]


def _writes(server: Any, route: str) -> int:
    return sum(
        n for r, n in control(server.url, "stats")["requests_by_route"].items() if route in r
    )


def _approved(Session: Any, team: Any, kind: str, target: str, params: dict[str, Any]) -> int:
    with Session.begin() as s:
        action = request_action(
            s, team["operator"], action_type=kind, target_id=target, params=params, reason="asked"
        )
        action_id = action.id
    with Session.begin() as s:
        actions.approve(s, team["approver"], action_id, "ok")
    return action_id


def test_a_cancellation_is_done_not_failed_after_the_key_is_forgotten(env: Any) -> None:
    server, settings, Session, team, gw = env
    sub = next(
        s for s in gw.list_page("subscriptions", {"limit": 100})["data"] if s["status"] == "active"
    )
    action_id = _approved(Session, team, "cancel_subscription", sub["id"], {})
    before = _writes(server, "DELETE /v1/subscriptions")
    assert _run_twice_across_the_window(server, settings, Session, action_id) == "succeeded"
    assert gw.retrieve("subscriptions", sub["id"])["status"] == "canceled"
    assert _writes(server, "DELETE /v1/subscriptions") == before + 1  # canceled once
    with Session() as s:
        note = s.get(ActionRequest, action_id).outcome_note or ""
    assert "already canceled" in note


def test_an_invoice_retry_is_done_with_the_reason_after_the_key_is_forgotten(env: Any) -> None:
    server, settings, Session, team, gw = env
    invoice = control(server.url, "simulate/payment_failed", {"decline_code": "insufficient_funds"})
    invoice_id = invoice["invoice"]
    action_id = _approved(Session, team, "retry_invoice_payment", invoice_id, {})
    before = _writes(server, "/pay")
    result = _run_twice_across_the_window(server, settings, Session, action_id)
    with Session() as s:
        action = s.get(ActionRequest, action_id)
        assert action is not None
        outcome = (action.status, action.outcome_note or action.last_error or "")
    assert gw.retrieve("invoices", invoice_id)["status"] == "paid"
    assert result == "succeeded" and "already paid" in outcome[1], outcome
    assert _writes(server, "/pay") == before + 1  # collected once
