"""Requests operators make from the pages (refund, credit, cancel, pause / restore access, invoice
retry), on both databases: amounts and currencies come from the stored Stripe object, roles and
reasons are checked in core, a second request joins the open one, every request is audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from core.config import DEFAULT_POLICY_FILE
from core.drift.checks import DriftItem
from core.drift.proposals import proposal_for, proposal_terms, propose
from core.errors import InputError, InvalidTransition, NotFound, PermissionDenied
from core.governance import audit
from core.governance import requests as desk
from core.governance.policy import parse_policy
from core.models.governance import ActionRequest, AuditEntry
from core.models.recovery import RecoveryCase
from core.recovery.requests import case_terms, request_for_case
from tests.support import disputes as objects
from tests.support.governance import make_team

T0 = 1_780_000_000


@pytest.fixture
def team(Session: Any) -> dict[str, Any]:
    with Session.begin() as s:
        return make_team(s)


@pytest.fixture
def world(Session: Any) -> dict[str, Any]:
    """A customer with a $1,662 charge, a half-refunded $1,000 charge, a disputed one, a JPY
    charge, an active subscription and an open invoice, as the sync stores them."""
    with Session.begin() as s:
        cus = objects.customer(s)
        objects.put(s, {**cus, "currency": "usd"})
        big = objects.charge(s, cus, 166_200, T0)
        half = objects.charge(s, cus, 100_000, T0, amount_refunded=60_000)
        disputed = objects.charge(s, cus, 9_900, T0, disputed=True)
        yen = objects.charge(s, cus, 80_000, T0, currency="jpy")
        sub = objects.put(
            s,
            {"id": "sub_r1", "object": "subscription", "status": "past_due", "customer": cus["id"]},
        )
        inv = objects.put(
            s,
            {
                "id": "in_r1",
                "object": "invoice",
                "status": "open",
                "customer": cus["id"],
                "currency": "usd",
                "amount_remaining": 4_900,
            },
        )
    return {
        "customer": cus["id"],
        "big": big["id"],
        "half": half["id"],
        "disputed": disputed["id"],
        "yen": yen["id"],
        "sub": sub["id"],
        "invoice": inv["id"],
    }


def _count(s: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(ActionRequest)) or 0)


def test_a_refund_without_amount_is_the_whole_remainder_and_needs_two_approvers(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    with Session.begin() as s:
        out = desk.request_refund(s, team["operator"], world["big"], "duplicate order")
    with Session() as s:
        action = s.get(ActionRequest, out.action_id)
        assert action is not None
        assert (action.amount, action.currency, action.required_approvals) == (166_200, "usd", 2)
        assert "amount" not in action.params  # executed as a full refund of what is left
        assert action.params["currency"] == "usd"
        assert action.requested_by == "operator" and action.reason == "duplicate order"
        assert audit.verify(s).ok
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "action.requested")).one()
        assert entry.actor == "operator" and entry.target == f"action:{out.action_id}"
    assert out.terms.approvals_needed == 2 and not out.joined
    assert "above $500.00 needs two approvers" in out.terms.rule
    assert out.message().startswith(f"Requested as action #{out.action_id}: refund of $1,662.00")


def test_a_caller_amount_or_currency_cannot_shrink_the_threshold(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    with Session.begin() as s:
        with pytest.raises(InputError, match="in USD, not JPY"):
            desk.request_refund(
                s, team["operator"], world["big"], "why", amount=74_999, currency="jpy"
            )
        with pytest.raises(InputError, match=r"Only \$400.00 .* is refundable"):
            desk.request_refund(s, team["operator"], world["half"], "why", amount=45_000)
        with pytest.raises(InputError, match="positive"):
            desk.request_refund(s, team["operator"], world["half"], "why", amount=0)
        assert _count(s) == 0
    with Session.begin() as s:
        # the half-refunded charge: $400 is left, so a full refund needs one approver
        full = desk.request_refund(s, team["operator"], world["half"], "rest", currency="USD")
        assert (full.terms.amount, full.terms.approvals_needed) == (40_000, 1)
        yen = desk.terms(s, "refund", world["yen"])
        assert yen.approvals_needed == 2 and "above ¥75,000 needs two approvers" in yen.rule


def test_role_and_reason_are_checked_in_core(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    with Session.begin() as s:
        with pytest.raises(PermissionDenied, match="viewer"):
            desk.request_refund(s, team["viewer"], world["big"], "I want to")
        with pytest.raises(PermissionDenied):
            propose(
                s,
                team["viewer"],
                DriftItem("entitlement_active_but_canceled", world["customer"], "x"),
                "pause",
            )
        with pytest.raises(InputError, match="reason is required"):
            desk.request_invoice_retry(s, team["operator"], world["invoice"], "  ")
        assert _count(s) == 0


def test_a_policy_letting_viewers_request_still_leaves_them_reading(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace(
        'request_roles = ["operator", "approver", "admin"]',
        'request_roles = ["viewer", "operator", "approver", "admin"]',
    )
    lax = parse_policy(text, "lax.toml")
    assert "viewer" in lax.for_action("refund").request_roles
    with Session.begin() as s:
        with pytest.raises(PermissionDenied, match="viewer"):
            desk.request_refund(s, team["viewer"], world["big"], "I want to", policy=lax)
        assert _count(s) == 0


def test_objects_that_cannot_be_acted_on_are_refused_with_the_reason(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    op = team["operator"]
    with Session.begin() as s:
        with pytest.raises(InvalidTransition, match="disputed"):
            desk.request_refund(s, op, world["disputed"], "why")
        with pytest.raises(NotFound, match="not synced"):
            desk.request_refund(s, op, "ch_nowhere", "why")
        with pytest.raises(InputError, match="is a subscription, not a charge"):
            desk.request_refund(s, op, world["sub"], "why")
        objects.put(s, {"id": "in_paid", "object": "invoice", "status": "paid"})
        with pytest.raises(InvalidTransition, match="only an open invoice"):
            desk.request_invoice_retry(s, op, "in_paid", "why")
        objects.put(s, {"id": "sub_gone", "object": "subscription", "status": "canceled"})
        with pytest.raises(InvalidTransition, match="already 'canceled'"):
            desk.request_cancel_subscription(s, op, "sub_gone", "why")
        with pytest.raises(InputError, match="in USD, not EUR"):
            desk.request_credit(s, op, world["customer"], "why", amount=500, currency="eur")
        assert _count(s) == 0


def test_a_second_request_joins_the_open_one(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    with Session.begin() as s:
        first = desk.request_refund(s, team["operator"], world["big"], "duplicate order")
    with Session.begin() as s:
        assert desk.terms(s, "refund", world["big"], amount=1_000).open_request == first.action_id
        second = desk.request_refund(s, team["admin"], world["big"], "customer asked", amount=1_000)
    assert second.joined and second.action_id == first.action_id
    # what the page shows is the open request's amount and approvals, not the joiner's
    assert (second.terms.amount, second.terms.approvals_needed) == (166_200, 2)
    assert f"joined the open request #{first.action_id}" in second.message()
    with Session() as s:
        assert _count(s) == 1
        joined = s.scalars(select(AuditEntry).where(AuditEntry.action == "action.joined")).one()
        assert joined.actor == "admin" and joined.after["reason"] == "customer asked"


def test_credit_cancel_access_and_retry_carry_stripe_figures(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    op = team["operator"]
    with Session.begin() as s:
        credit = desk.request_credit(s, op, world["customer"], "goodwill", amount=60_000)
        cancel = desk.request_cancel_subscription(s, op, world["sub"], "customer left")
        pause = desk.request_pause_access(s, op, world["customer"], "unpaid")
        restore = desk.request_restore_access(s, op, world["customer"], "paid again")
        retry = desk.request_invoice_retry(s, op, world["invoice"], "new card on file")
    assert (credit.terms.amount, credit.terms.currency, credit.terms.approvals_needed) == (
        60_000,
        "usd",
        2,
    )
    assert cancel.terms.approvals_needed == 1 and "whatever the amount" in cancel.terms.rule
    assert (retry.terms.amount, retry.terms.approvals_needed) == (4_900, 1)
    with Session() as s:
        rows = {a.action_type: a for a in s.scalars(select(ActionRequest))}
        assert rows["customer_credit"].params == {
            "customer": world["customer"],
            "currency": "usd",
            "amount": 60_000,
        }
        assert rows["cancel_subscription"].params == {"subscription": world["sub"]}
        assert rows["pause_access"].target_id == world["customer"]
        assert rows["restore_access"].target_id == world["customer"]
        assert rows["retry_invoice_payment"].params == {"invoice": world["invoice"]}
        assert {a.status for a in rows.values()} == {"requested"}
        assert pause.action_id != restore.action_id


def test_requests_from_a_failed_payment_case(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    with Session.begin() as s:
        case = RecoveryCase(
            invoice_id=world["invoice"],
            customer_id="cus_not_synced",
            subscription_id=world["sub"],
            currency="usd",
            amount_due=4_900,
            amount_remaining=4_900,
            first_failed_at=T0,
            last_event_created=T0,
        )
        s.add(case)
        s.flush()
        case_id = case.id
    with Session.begin() as s:
        # a customer not synced yet takes the currency of the case's invoice
        t = case_terms(s, case_id, "customer_credit", amount=2_500)
        assert (t.target_id, t.currency, t.approvals_needed) == ("cus_not_synced", "usd", 1)
        out = request_for_case(s, team["operator"], case_id, "retry_invoice_payment", "new card")
        action = s.get(ActionRequest, out.action_id)
        assert action is not None and action.target_id == world["invoice"]
        assert action.rule_id == "recovery.retry_invoice_payment"
        assert action.evidence["source"] == f"recovery case #{case_id} ({world['invoice']})"
        with pytest.raises(InputError, match="not something a failed-payment case"):
            request_for_case(s, team["operator"], case_id, "refund", "no")


def test_drift_proposes_pause_access_for_access_active_but_canceled(
    Session: Any, team: dict[str, Any], world: dict[str, Any]
) -> None:
    item = DriftItem(
        "entitlement_active_but_canceled",
        world["customer"],
        f"{world['customer']}: access active, subscription canceled or unpaid",
    )
    assert proposal_for(DriftItem("bank_payout_missing", "po_1", "x")) is None
    with Session.begin() as s:
        assert proposal_terms(s, item).action_type == "pause_access"
        out = propose(s, team["operator"], item, "they stopped paying")
        again = propose(s, team["admin"], item, "still active")
    assert again.joined and again.action_id == out.action_id
    with Session() as s:
        action = s.get(ActionRequest, out.action_id)
        assert action is not None
        assert (action.action_type, action.target_id) == ("pause_access", world["customer"])
        assert action.rule_id == "drift.entitlement_active_but_canceled"
        assert _count(s) == 1
