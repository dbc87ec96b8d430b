"""Outbox delivery to real loopback servers: SMTP (aiosmtpd) and a Slack-style webhook."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.adapters import outbox
from core.models.base import utcnow
from tests.conftest import settings_for
from tests.support.receivers import free_port, smtp_server, webhook_receiver

# The loopback test server takes AUTH without TLS on purpose; that is what aiosmtpd warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def queue_email(Session: Any, key: str = "action:1") -> int:
    with Session.begin() as s:
        first = outbox.enqueue_email(
            s, "pat@example.com", "Your invoice", "Please pay.", key, related="in_1"
        )
        again = outbox.enqueue_email(s, "pat@example.com", "Your invoice", "Please pay.", key)
        assert again.id == first.id  # one message per decision
        return first.id


def statuses(Session: Any) -> list[str]:
    with Session() as s:
        return [m.status for m in outbox.list_messages(s)]


def test_smtp_retries_after_a_refused_connection_then_sends_once(Session: Any, db_url: str) -> None:
    port = free_port()  # nothing listens yet: the connection is refused
    settings = settings_for(
        db_url, SMTP_URL=f"smtp://127.0.0.1:{port}", SMTP_FROM="desk@example.com"
    )
    queue_email(Session)
    first = outbox.deliver(Session, settings, timeout=5)
    assert first.counts == {"retrying": 1}
    with Session() as s:
        [msg] = outbox.list_messages(s)
        assert (
            msg.status == "pending"
            and msg.attempts == 1
            and "could not reach" in (msg.last_error or "")
        )
    assert outbox.deliver(Session, settings).counts == {}  # backing off: not due yet
    with smtp_server(port) as (_, received):
        later = utcnow() + timedelta(minutes=5)
        assert outbox.deliver(Session, settings, now=later).counts == {"sent": 1}
        assert outbox.deliver(Session, settings, now=later + timedelta(hours=1)).counts == {}
        assert len(received) == 1
        assert (
            received[0]["to"] == ["pat@example.com"]
            and "Subject: Your invoice" in received[0]["data"]
        )
        assert "Message-ID: <" in received[0]["data"]
    assert statuses(Session) == ["sent"]


def test_smtp_login_from_the_url_and_a_wrong_password_never_leaks(
    Session: Any, db_url: str
) -> None:
    with smtp_server(credentials=("desk", "s3cret pass")) as (port, received):
        wrong = settings_for(db_url, SMTP_URL=f"smtp://desk:nope-nope@127.0.0.1:{port}")
        queue_email(Session, "k2")
        assert outbox.deliver(Session, wrong).counts == {"retrying": 1}
        with Session() as s:
            [msg] = outbox.list_messages(s)
            assert "535" in (msg.last_error or "") and "nope-nope" not in (msg.last_error or "")
        right = settings_for(db_url, SMTP_URL=f"smtp://desk:s3cret%20pass@127.0.0.1:{port}")
        later = utcnow() + timedelta(minutes=5)
        assert outbox.deliver(Session, right, now=later).counts == {"sent": 1}
        assert len(received) == 1
    assert "s3cret" not in repr(right)


def test_demo_mode_holds_emails_in_the_outbox(Session: Any, db_url: str) -> None:
    settings = settings_for(db_url, LEDGERDESK_SANDBOX="1")
    queue_email(Session)
    assert outbox.deliver(Session, settings).counts == {"held": 1}
    with Session() as s:
        [msg] = outbox.list_messages(s)
        assert msg.status == "held" and msg.last_error == "held (demo): kept in the outbox"


def test_slack_webhook_retries_a_500_and_posts_once(Session: Any, db_url: str) -> None:
    with webhook_receiver(statuses=[500]) as (url, received):
        settings = settings_for(db_url, SLACK_WEBHOOK_URL=url)
        with Session.begin() as s:
            outbox.enqueue_chat(s, "Dispute dp_1 is due in 24 hours", "reminder:dp_1:24h")
            outbox.enqueue_chat(s, "Dispute dp_1 is due in 24 hours", "reminder:dp_1:24h")
        assert outbox.deliver(Session, settings).counts == {"retrying": 1}
        later = utcnow() + timedelta(minutes=5)
        assert outbox.deliver(Session, settings, now=later).counts == {"sent": 1}
        assert outbox.deliver(Session, settings, now=later + timedelta(hours=2)).counts == {}
        assert received == [{"text": "Dispute dp_1 is due in 24 hours"}]


def test_a_refusing_webhook_fails_for_good_and_a_crashed_send_is_not_repeated(
    Session: Any, db_url: str
) -> None:
    with webhook_receiver(statuses=[404]) as (url, received):
        settings = settings_for(db_url, SLACK_WEBHOOK_URL=url)
        with Session.begin() as s:
            outbox.enqueue_chat(s, "hello", "k-404")
            stuck = outbox.enqueue_chat(s, "interrupted", "k-stuck")
            stuck.status, stuck.claimed_at = "sending", utcnow() - timedelta(hours=1)
        report = outbox.deliver(Session, settings)
        assert report.counts == {"failed": 1, "unknown": 1}
        assert received == []
