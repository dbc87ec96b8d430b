"""The webhook endpoint under attack, over real sockets: deep and oversized bodies, signatures from
the future, unknown event types, slow clients and too many connections."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from core.adapters.stripe_gateway import sign_webhook_payload
from core.config import WebhookLimits
from core.db import make_engine, make_sessionmaker, migrate
from core.models.sync import Event, StripeObject
from core.sync.health import webhook_rejects, webhook_stored_not_applied
from core.sync.webhook_receiver import WebhookReceiver, WebhookServer

SECRET = "whsec_limits_test"
READ_TIMEOUT = 1.5


@pytest.fixture
def endpoint(sqlite_url: str) -> Iterator[tuple[WebhookServer, Any]]:
    engine = make_engine(sqlite_url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    limits = WebhookLimits(read_timeout_seconds=READ_TIMEOUT, max_connections=60)
    server = WebhookServer(WebhookReceiver(Session, [SECRET], limits=limits))
    server.start()
    yield server, Session
    server.stop()
    engine.dispose()


def event(eid: str, etype: str = "charge.refunded", obj: dict | None = None) -> dict[str, Any]:
    return {
        "id": eid,
        "object": "event",
        "type": etype,
        "created": int(time.time()),
        "api_version": "2026-10-28.endive",
        "data": {"object": obj or {"id": "ch_" + eid, "object": "charge"}},
    }


def post(url: str, body: bytes, signature: str | None, **headers: str) -> tuple[int, dict]:
    """One POST on a fresh connection; the JSON answer."""
    parts = urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        sent = {"Content-Type": "application/json", **headers}
        if signature is not None:
            sent["Stripe-Signature"] = signature
        conn.request("POST", parts.path, body=body, headers=sent)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def signed(body: bytes, **kw: Any) -> str:
    return sign_webhook_payload(body, SECRET, **kw)


def test_a_signed_100000_deep_body_gets_a_clear_400(endpoint: Any) -> None:
    server, Session = endpoint
    deep = event("evt_deep")
    text = json.dumps(deep).replace('"object": "charge"', '"object": "charge", "x": @')
    body = text.replace("@", "[" * 100_000 + "]" * 100_000).encode()
    status, answer = post(server.url, body, signed(body))
    assert status == 400 and answer["error"]["type"] == "too_deep"
    assert "64 levels" in answer["error"]["message"]
    # 65 levels (over the limit, well under the parser's own) is refused the same way.
    body = text.replace("@", "[" * 62 + "]" * 62).encode()
    assert post(server.url, body, signed(body))[1]["error"]["type"] == "too_deep"
    body = text.replace("@", "[" * 61 + "]" * 61).encode()  # exactly 64 levels: fine
    assert post(server.url, body, signed(body))[0] == 200
    with Session() as s:
        assert s.scalars(select(Event.event_id)).all() == ["evt_deep"]
        assert webhook_rejects(s) == {"too_deep": 2}


def test_signatures_from_the_future_are_refused_beyond_the_tolerance(endpoint: Any) -> None:
    server, Session = endpoint
    body = json.dumps(event("evt_future")).encode()
    tomorrow = signed(body, timestamp=int(time.time()) + 24 * 3600)
    status, answer = post(server.url, body, tomorrow)
    assert status == 400 and answer["error"]["type"] == "future_timestamp"
    skewed = signed(body, timestamp=int(time.time()) + 120)  # a clock a little ahead is fine
    assert post(server.url, body, skewed)[0] == 200
    with Session() as s:
        assert webhook_rejects(s) == {"future_timestamp": 1}


def test_forged_signatures_and_garbage_are_refused(endpoint: Any) -> None:
    server, Session = endpoint
    body = json.dumps(event("evt_forged")).encode()
    forged = f"t={int(time.time())},v1={'ab' * 32}"
    assert post(server.url, body, forged) == (
        400,
        {
            "error": {
                "type": "bad_signature",
                "message": "no v1 signature matches the body and the endpoint secret",
            }
        },
    )
    assert post(server.url, b"[1, 2]", signed(b"[1, 2]"))[1]["error"]["type"] == "bad_body"
    assert post(server.url, b"{nope", signed(b"{nope"))[1]["error"]["type"] == "bad_body"
    with Session() as s:
        assert s.scalars(select(Event.event_id)).all() == []
        assert webhook_rejects(s) == {"bad_signature": 1, "bad_body": 2}


def test_unknown_types_are_stored_for_audit_but_set_no_snapshot(endpoint: Any) -> None:
    server, Session = endpoint
    planted = {"id": "in_planted", "object": "invoice", "status": "paid", "amount_paid": 999}
    deliveries = [
        event("evt_unknown", "ledgerdesk.takeover", planted),
        event("evt_mislabelled", "charge.refunded", planted),  # a known type, the wrong object
        event("evt_real", "invoice.paid", {"id": "in_real", "object": "invoice"}),
    ]
    for ev in deliveries:
        body = json.dumps(ev).encode()
        assert post(server.url, body, signed(body)) == (
            200,
            {"received": True, "duplicate": False, "stored": True},
        )
    with Session() as s:
        stored = dict(s.execute(select(Event.event_id, Event.type)).all())
        assert stored["evt_unknown"] == "ledgerdesk.takeover" and len(stored) == 3
        assert s.get(StripeObject, "in_planted") is None
        assert s.get(StripeObject, "in_real") is not None
        assert webhook_stored_not_applied(s) == {"unknown_type": 1}
        assert webhook_rejects(s) == {}


def test_oversized_bodies_get_413_declared_or_streamed(endpoint: Any) -> None:
    server, Session = endpoint
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    status, answer = post(server.url, body, signed(body))
    assert status == 413 and "1,048,576-byte limit" in answer["error"]["message"]
    # Chunked, with no Content-Length to refuse up front: cut once the limit is passed.
    parts = urlparse(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    chunks = iter([b"x" * 65536] * 20)
    conn.request("POST", parts.path, body=chunks, headers={"Stripe-Signature": signed(b"x")})
    resp = conn.getresponse()
    assert resp.status == 413 and json.loads(resp.read())["error"]["type"] == "too_large"
    conn.close()
    with Session() as s:
        assert webhook_rejects(s) == {"too_large": 2}


def _slow_client(url: str, kind: str) -> socket.socket:
    parts = urlparse(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    if kind == "headers":  # a request line and part of the headers, then nothing
        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nStripe-Signa")
    else:  # complete headers, a tenth of the promised body, then nothing
        sock.sendall(
            b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b"{" * 100
        )
    return sock


def _answer_and_close(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):  # until the server closes the connection
        data += chunk
    return data


@pytest.mark.timeout(60)
def test_forty_slow_clients_do_not_delay_a_delivery_and_are_cut_after_the_timeout(
    endpoint: Any,
) -> None:
    server, Session = endpoint
    started = time.monotonic()
    slow = [_slow_client(server.url, "headers" if i % 2 else "body") for i in range(40)]
    body = json.dumps(event("evt_in_time")).encode()
    t0 = time.monotonic()
    assert post(server.url, body, signed(body))[0] == 200
    answered_in = time.monotonic() - t0
    assert answered_in < 2.0, f"a good delivery waited {answered_in:.2f} s behind slow clients"
    answers = [_answer_and_close(s) for s in slow]
    cut_after = time.monotonic() - started
    for s in slow:
        s.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[:2]
    assert cut_after < READ_TIMEOUT + 3.0, f"slow clients were held {cut_after:.1f} s"
    reasons = {json.loads(a.split(b"\r\n\r\n", 1)[1])["error"]["type"] for a in answers}
    assert reasons == {"slow_headers", "slow_body"}
    deadline = time.monotonic() + 5  # the counts are written off the event loop
    while True:
        with Session() as s:
            counted = webhook_rejects(s)
        if counted == {"slow_headers": 20, "slow_body": 20} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert counted == {"slow_headers": 20, "slow_body": 20}


def test_connections_beyond_the_limit_get_503_at_once(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    limits = WebhookLimits(read_timeout_seconds=5, max_connections=3)
    server = WebhookServer(WebhookReceiver(Session, [SECRET], limits=limits))
    server.start()
    parts = urlparse(server.url)
    try:
        held = [socket.create_connection((parts.hostname, parts.port)) for _ in range(3)]
        extra = socket.create_connection((parts.hostname, parts.port), timeout=5)
        answer = _answer_and_close(extra)
        assert answer.startswith(b"HTTP/1.1 503 ") and b'"busy"' in answer
        for s in held:
            s.close()
        time.sleep(0.2)
        body = json.dumps(event("evt_after")).encode()
        assert post(server.url, body, signed(body))[0] == 200  # room again once they are gone
    finally:
        server.stop()
    with Session() as s:
        assert webhook_rejects(s) == {"busy": 1}
    engine.dispose()
