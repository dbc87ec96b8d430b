"""The outbox re-checks the world before it sends (issue 14): a dunning email approved before
the customer paid is superseded, held messages are released once SMTP is configured, and a
message SMTP cannot take fails with its reason without blocking the rest. Real components: the
sandbox over HTTP for Stripe, an SMTP server on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from core.adapters import outbox
from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import Settings
from core.governance import actions, deliveries
from core.governance.executor import execute_action
from core.models.base import utcnow
from core.models.governance import ActionRequest, AuditEntry, OutboxMessage
from core.models.recovery import RecoveryCase
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from core.sync.snapshots import refresh_requested
from tests.conftest import settings_for
from tests.support.governance import make_team
from tests.support.receivers import smtp_server
from tests.support.sandbox import SANDBOX_KEY

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
load_handler_modules()


def simulate(sandbox: Any, kind: str, **params: str) -> dict[str, Any]:
    resp = requests.post(f"{sandbox.url}/_sandbox/simulate/{kind}", data=params, timeout=10)
    resp.raise_for_status()
    return resp.json()


def sync_events(Session: Any, gw: StripeGateway, event_ids: list[str]) -> None:
    """What the sync does with new events: store them, read what they refer to, run handlers."""
    events = [gw.retrieve("events", e) for e in event_ids]
    with Session.begin() as s:
        ingest_events(s, sorted(events, key=lambda e: (e["created"], e["id"])))
    process_batch(Session)
    refresh_requested(Session, gw.retrieve, gw.list_page, account="")
    process_batch(Session, now=utcnow() + timedelta(hours=1))


@pytest.fixture
def stripe_settings(sandbox: Any, db_url: str) -> Settings:
    return settings_for(db_url, STRIPE_API_KEY=SANDBOX_KEY, STRIPE_API_BASE=sandbox.url)


def approved_dunning_email(Session: Any, settings: Settings, invoice_id: str) -> int:
    """A send_message action on the invoice, requested, approved and executed (queued)."""
    with Session.begin() as s:
        team = make_team(s)
        action = actions.request_action(
            s,
            team["operator"],
            action_type="send_message",
            target_id=invoice_id,
            params={
                "to": "pat@example.com",
                "subject": "Your payment failed",
                "body": "Please update your card.",
                "invoice": invoice_id,
            },
            reason="first reminder",
            rule_id="recovery.bucket.card_data",
        )
        actions.approve(s, team["approver"], action.id, "template is right")
        action_id = action.id
    assert execute_action(Session, settings, action_id) == "succeeded"
    return action_id


def test_a_dunning_email_approved_before_the_payment_is_superseded_not_sent(
    Session: Any, stripe_settings: Settings, sandbox: Any
) -> None:
    gw = StripeGateway(make_client(stripe_settings))
    failed = simulate(sandbox, "payment_failed")
    sync_events(Session, gw, failed["events"])
    invoice_id = failed["invoice"]
    with Session() as s:
        case = s.scalars(select(RecoveryCase).where(RecoveryCase.invoice_id == invoice_id)).one()
        assert case.status == "open"
    action_id = approved_dunning_email(Session, stripe_settings, invoice_id)
    paid = simulate(sandbox, "invoice_paid", invoice=invoice_id)
    sync_events(Session, gw, paid["events"])
    with Session() as s:
        case = s.scalars(select(RecoveryCase).where(RecoveryCase.invoice_id == invoice_id)).one()
        assert case.status == "recovered"

    with smtp_server() as (port, received):
        settings = settings_for(stripe_settings.database_url, SMTP_URL=f"smtp://127.0.0.1:{port}")
        report = deliveries.deliver(Session, settings, timeout=5)
        assert report.counts == {"superseded": 1}
        assert received == []
    with Session() as s:
        msg = s.scalars(select(OutboxMessage)).one()
        assert msg.status == "superseded"
        assert invoice_id in (msg.last_error or "") and "recovered" in (msg.last_error or "")
        action = s.get(ActionRequest, action_id)
        assert action is not None and action.status == "succeeded"
        assert (action.outcome_note or "").startswith("Email not sent:")
        assert (action.result or {}).get("delivery") == "superseded"
        audited = s.scalars(
            select(AuditEntry.action).where(AuditEntry.target == f"outbox:{msg.id}")
        )
        assert list(audited) == ["outbox.superseded"]


def queue(Session: Any, key: str, to: str = "pat@example.com") -> int:
    with Session.begin() as s:
        return outbox.enqueue_email(s, to, "Your invoice", "Please pay.", key).id


def test_held_messages_are_delivered_once_smtp_is_configured(Session: Any, db_url: str) -> None:
    queue(Session, "held-1")
    assert deliveries.deliver(Session, settings_for(db_url)).counts == {"held": 1}
    assert deliveries.deliver(Session, settings_for(db_url)).counts == {}  # still unset: kept
    with smtp_server() as (port, received):
        configured = settings_for(db_url, SMTP_URL=f"smtp://127.0.0.1:{port}")
        assert deliveries.deliver(Session, configured, timeout=5).counts == {"sent": 1}
        assert deliveries.deliver(Session, configured, timeout=5).counts == {}
        assert [m["to"] for m in received] == [["pat@example.com"]]
    with Session() as s:
        assert [m.status for m in outbox.list_messages(s)] == ["sent"]


def test_a_recipient_with_a_line_break_fails_and_the_next_message_is_delivered(
    Session: Any, db_url: str
) -> None:
    poisoned = queue(Session, "poison", to="pat@example.com\r\nBcc: all@example.com")
    queue(Session, "next")
    with smtp_server() as (port, received):
        settings = settings_for(db_url, SMTP_URL=f"smtp://127.0.0.1:{port}")
        report = deliveries.deliver(Session, settings, timeout=5)
        assert report.counts == {"failed": 1, "sent": 1}
        assert [m["to"] for m in received] == [["pat@example.com"]]
        assert "Bcc" not in received[0]["data"]
        assert deliveries.deliver(Session, settings, timeout=5).counts == {}
    with Session() as s:
        msg = s.get(OutboxMessage, poisoned)
        assert msg is not None and msg.status == "failed"
        assert "line break" in (msg.last_error or "")
        audited = s.scalars(
            select(AuditEntry.action).where(AuditEntry.target == f"outbox:{poisoned}")
        )
        assert list(audited) == ["outbox.failed"]


def test_a_payment_the_desk_has_not_synced_yet_still_stops_the_email(
    Session: Any, stripe_settings: Settings, sandbox: Any
) -> None:
    gw = StripeGateway(make_client(stripe_settings))
    failed = simulate(sandbox, "payment_failed")
    sync_events(Session, gw, failed["events"])
    invoice_id = failed["invoice"]
    action_id = approved_dunning_email(Session, stripe_settings, invoice_id)
    simulate(sandbox, "invoice_paid", invoice=invoice_id)  # paid in Stripe, not synced
    with Session() as s:
        case = s.scalars(select(RecoveryCase).where(RecoveryCase.invoice_id == invoice_id)).one()
        assert case.status == "open"  # the desk does not know yet

    with smtp_server() as (port, received):
        settings = settings_for(
            stripe_settings.database_url,
            SMTP_URL=f"smtp://127.0.0.1:{port}",
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=sandbox.url,
        )
        assert deliveries.deliver(Session, settings, timeout=5).counts == {"superseded": 1}
        assert received == []
    with Session() as s:
        msg = s.scalars(select(OutboxMessage)).one()
        assert msg.status == "superseded"
        assert f"Invoice {invoice_id} is 'paid' in Stripe now" in (msg.last_error or "")
        action = s.get(ActionRequest, action_id)
        assert action is not None and (action.outcome_note or "").startswith("Email not sent:")


def test_a_message_waits_when_stripe_cannot_be_read(
    Session: Any, stripe_settings: Settings, sandbox: Any
) -> None:
    gw = StripeGateway(make_client(stripe_settings))
    failed = simulate(sandbox, "payment_failed")
    sync_events(Session, gw, failed["events"])
    approved_dunning_email(Session, stripe_settings, failed["invoice"])
    with smtp_server() as (port, received):
        settings = settings_for(
            stripe_settings.database_url,
            SMTP_URL=f"smtp://127.0.0.1:{port}",
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE="http://127.0.0.1:9",  # nothing listens: Stripe cannot be reached
        )
        assert deliveries.deliver(Session, settings, timeout=5).counts == {"retrying": 1}
        assert received == []
    with Session() as s:
        msg = s.scalars(select(OutboxMessage)).one()
        assert msg.status == "pending" and "could not re-read it in Stripe" in (
            msg.last_error or ""
        )
