"""Sending recovery messages through approval actions; quiet period; pre-dunning; AI drafts once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.adapters.llm import LlmClient
from core.errors import InputError, InvalidTransition
from core.governance.auth import SYSTEM_ACTOR, Actor, create_user
from core.models.governance import ActionRequest
from core.models.recovery import RecoveryCase, RecoveryDraft
from core.recovery.context import recovery_settings
from core.recovery.drafts import create_draft, edit_draft, outstanding_drafts, request_send
from core.recovery.predunning import predunning_drafts, request_card_update, run_predunning
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from tests.support.openai_stub import running_openai_stub
from tests.support.recovery import event, failed_charge, invoice

T0 = 1_780_000_000
load_handler_modules()


def deliver(Session: Any, events: list[dict[str, Any]]) -> None:
    with Session.begin() as s:
        ingest_events(s, events)
    process_batch(Session)


def operator(Session: Any) -> Actor:
    with Session.begin() as s:
        user, _ = create_user(
            s,
            SYSTEM_ACTOR,
            "olga",
            "operator",
            password="correct horse battery staple",
            must_change_password=False,
        )
        return Actor(user.id, user.username, user.role)


def email_draft(s: Any) -> RecoveryDraft:
    return s.scalars(
        select(RecoveryDraft).where(
            RecoveryDraft.channel == "email",
            RecoveryDraft.status.in_(("draft", "edited")),
        )
    ).one()


def test_edit_then_request_send_is_one_approval_action_per_attempt(
    Session: Any,
) -> None:
    deliver(
        Session,
        [
            event("charge.failed", failed_charge("ch_1", decline="expired_card"), T0),
            event("invoice.payment_failed", invoice("in_1"), T0 + 1),
        ],
    )
    olga = operator(Session)
    cfg, _ = recovery_settings()
    with Session.begin() as s:
        d = email_draft(s)
        # The customer reads Stripe's invoice number, not the invoice id.
        assert d.subject == "Please update your card for invoice INV-0001"
        assert "invoice INV-0001" in d.body and "invoice in_1" not in d.body
        edit_draft(s, olga, d.id, d.subject, d.body + "\n\nP.S. Thanks for being with us.")
        action = request_send(s, olga, d.id, cfg)
        assert (action.action_type, action.status, action.dedupe_key) == (
            "send_message",
            "requested",
            "recovery:in_1:1:email",
        )
        assert action.params["to"] == "ana@acme.io" and "P.S." in action.params["body"]
        assert action.rule_id == "recovery.bucket.card_data" and action.policy_version
    with Session.begin() as s, pytest.raises(InvalidTransition):
        request_send(s, olga, email_draft_id(s), cfg)  # already requested
    # the next failed attempt inside the quiet period: drafted, but cannot be requested yet
    deliver(
        Session,
        [event("invoice.payment_failed", invoice("in_1", attempt=2), T0 + 86_400)],
    )
    with Session.begin() as s, pytest.raises(InputError, match="Quiet period"):
        request_send(s, olga, email_draft(s).id, cfg)
    with Session.begin() as s:
        later = s.scalars(select(RecoveryCase)).one().last_message_at + timedelta(
            hours=cfg.quiet_period_hours + 1
        )
        second = request_send(s, olga, email_draft(s).id, cfg, now=later)
        assert second.dedupe_key == "recovery:in_1:2:email"
    # payment arrives: both pending requests are superseded, nothing outstanding remains
    deliver(
        Session,
        [
            event(
                "invoice.paid",
                invoice("in_1", status="paid", attempt=2),
                T0 + 5 * 86_400,
            )
        ],
    )
    with Session() as s:
        statuses = s.scalars(select(ActionRequest.status).order_by(ActionRequest.id)).all()
        assert statuses == ["superseded", "superseded"]
        case = s.scalars(select(RecoveryCase)).one()
        assert case.status == "recovered" and outstanding_drafts(s, case.id) == []


def email_draft_id(s: Any) -> int:
    return s.scalars(select(RecoveryDraft.id).where(RecoveryDraft.channel == "email")).first()


def test_viewer_cannot_request_and_closed_cases_send_nothing(Session: Any) -> None:
    deliver(Session, [event("invoice.payment_failed", invoice("in_2", pi=None), T0)])
    cfg, _ = recovery_settings()
    with Session.begin() as s:
        user, _ = create_user(
            s,
            SYSTEM_ACTOR,
            "vic",
            "viewer",
            password="correct horse battery staple",
            must_change_password=False,
        )
        viewer = Actor(user.id, user.username, user.role)
    from core.errors import PermissionDenied

    with Session.begin() as s, pytest.raises(PermissionDenied):
        request_send(s, viewer, email_draft(s).id, cfg)


def test_ai_draft_is_generated_once_per_inputs(Session: Any) -> None:
    deliver(Session, [event("invoice.payment_failed", invoice("in_3", pi=None), T0)])
    cfg, _ = recovery_settings()
    with running_openai_stub() as stub:
        stub.replies = [
            lambda body: {
                "parts": __import__("json").loads(body["messages"][1]["content"])["parts"]
            }
        ]
        llm = LlmClient("sk-test", model="gpt-4o-mini", base_url=stub.url)
        with Session.begin() as s:
            case = s.scalars(select(RecoveryCase)).one()
            first = create_draft(s, case, "email", cfg, llm=llm, created_by="olga")
            again = create_draft(s, case, "email", cfg, llm=llm, created_by="olga")
            assert first.id == again.id and len(stub.requests) == 1
            assert (first.model, first.prompt_tokens, first.completion_tokens) == (
                "gpt-4o-mini",
                120,
                40,
            )
            assert first.guard == "ai rewrite passed the guard" and first.cost_micro_usd > 0


def test_predunning_drafts_card_updates_for_cards_expiring_soon(Session: Any) -> None:
    today = date(2026, 11, 20)
    objs = [
        {
            "id": "cus_exp",
            "object": "customer",
            "email": "exp@x.io",
            "name": "Exp Co",
            "invoice_settings": {"default_payment_method": "pm_exp"},
        },
        {
            "id": "pm_exp",
            "object": "payment_method",
            "card": {"last4": "1111", "exp_month": 12, "exp_year": 2026},
        },
        {
            "id": "sub_exp",
            "object": "subscription",
            "status": "active",
            "customer": "cus_exp",
        },
        {
            "id": "cus_ok",
            "object": "customer",
            "email": "ok@x.io",
            "invoice_settings": {"default_payment_method": "pm_ok"},
        },
        {
            "id": "pm_ok",
            "object": "payment_method",
            "card": {"last4": "2222", "exp_month": 5, "exp_year": 2028},
        },
        {
            "id": "sub_ok",
            "object": "subscription",
            "status": "active",
            "customer": "cus_ok",
        },
    ]
    with Session.begin() as s:
        # Stripe's own event types: a subscription changes by customer.subscription.updated
        kinds = {"subscription": "customer.subscription.updated"}
        stream = [
            event(kinds.get(o["object"], f"{o['object']}.updated"), o, T0 + i)
            for i, o in enumerate(objs)
        ]
        ingest_events(s, stream)
    cfg, _ = recovery_settings()
    with Session.begin() as s:
        assert run_predunning(s, cfg, today) == 1
        assert run_predunning(s, cfg, today) == 0  # once per card expiry
    olga = operator(Session)
    with Session.begin() as s:
        (draft,) = predunning_drafts(s)
        assert "1111" in draft.body and "December 2026" in draft.body
        action = request_card_update(s, olga, draft.id)
        assert action.target_id == "sub_exp" and action.params["to"] == "exp@x.io"
