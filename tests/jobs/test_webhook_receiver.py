"""The webhook receiver: signatures, stale and oversize deliveries, and localstripe's webhooks."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import stripe
from sqlalchemy import func, select

from core.adapters.stripe_gateway import sign_webhook_payload
from core.config import WebhookLimits
from core.db import make_engine, make_sessionmaker, migrate
from core.models.sync import Event
from core.sync.health import webhook_rejects
from core.sync.webhook_receiver import WebhookReceiver, WebhookServer
from tests.support.localstripe import register_webhook, running_localstripe

SECRET = "whsec_test_ledgerdesk"


@pytest.fixture
def receiver(db_url: str) -> Any:
    engine = make_engine(db_url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    limits = WebhookLimits(max_body_bytes=64 * 1024)
    server = WebhookServer(WebhookReceiver(Session, [SECRET], limits=limits))
    server.start()
    yield server, Session
    server.stop()
    engine.dispose()


def post(url: str, body: bytes, signature: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def event_body(eid: str = "evt_wh_1") -> bytes:
    event = {
        "id": eid,
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "api_version": "2026-10-28.endive",
        "data": {"object": {"id": "ch_1", "object": "charge"}},
    }
    return json.dumps(event).encode()


def test_signed_events_are_stored_once_and_bad_ones_refused(receiver: Any) -> None:
    server, Session = receiver
    body = event_body()
    good = sign_webhook_payload(body, SECRET)
    assert post(server.url, body, good) == (
        200,
        {"received": True, "duplicate": False, "stored": True},
    )
    assert post(server.url, body, good)[1]["duplicate"] is True
    rotated = good + ",v1=" + "0" * 64  # several v1 values while a secret rotates
    assert post(server.url, body, rotated)[0] == 200
    tampered = body.replace(b"charge.refunded", b"charge.succeeded")
    assert post(server.url, tampered, good)[1]["error"]["type"] == "bad_signature"
    assert post(server.url, body, sign_webhook_payload(body, "whsec_wrong"))[0] == 400
    stale = sign_webhook_payload(body, SECRET, timestamp=int(time.time()) - 3600)
    assert post(server.url, body, stale)[1]["error"]["type"] == "stale_timestamp"
    assert post(server.url, body, None)[1]["error"]["type"] == "missing_signature"
    big = b"{" + b" " * (70 * 1024) + b"}"
    assert post(server.url, big, sign_webhook_payload(big, SECRET))[0] == 413
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1
        assert webhook_rejects(s) == {
            "bad_signature": 2,
            "stale_timestamp": 1,
            "missing_signature": 1,
            "too_large": 1,
        }


@pytest.mark.timeout(90)
def test_localstripe_webhooks_are_verified_and_stored_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wh.db'}")
    migrate(engine)
    Session = make_sessionmaker(engine)
    server = WebhookServer(WebhookReceiver(Session, [SECRET]))
    server.start()
    try:
        with running_localstripe() as base:
            register_webhook(base, "ledgerdesk", server.url, SECRET)
            register_webhook(base, "wrong", server.url, "whsec_not_ours")
            client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": base})
            for i in range(3):
                cust = client.v1.customers.create({"email": f"c{i}@example.com"})
                client.v1.customers.update(cust.id, {"metadata": {"n": str(i)}})
            sent = [e.id for e in client.v1.events.list({"limit": 100}).data]
            assert len(sent) >= 6
            deadline = time.time() + 30
            while time.time() < deadline:
                with Session() as s:
                    stored = set(s.scalars(select(Event.event_id)))
                if stored >= set(sent):
                    break
                time.sleep(0.3)
            time.sleep(1.5)  # any late duplicate deliveries land too
        with Session() as s:
            rows = s.scalars(select(Event.event_id)).all()
            rejects = webhook_rejects(s)
        assert sorted(rows) == sorted(set(sent))  # every event once, nothing else
        assert rejects.get("bad_signature", 0) >= len(sent)  # the wrong-secret endpoint's copies
    finally:
        server.stop()
        engine.dispose()
