"""Operational controls: rate limit (429 + Stripe-Should-Retry), faults, stats, request log, config."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.conftest import control, make_client


@pytest.fixture(scope="module")
def small() -> Iterator[SandboxServer]:
    with SandboxServer(
        SandboxConfig(port=0, seed=11, customers=10, days=45, hang_seconds=3.0)
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(small: SandboxServer) -> Iterator[None]:
    yield
    control(
        small.url,
        "/_sandbox/config",
        {
            "rate_limit": "0",
            "fault_rate": "0",
            "latency_ms": "0",
            "fault_kinds": "500,timeout,disconnect,truncated,429",
        },
    )


def test_rate_limit_answers_429_with_should_retry(small: SandboxServer) -> None:
    control(small.url, "/_sandbox/config", {"rate_limit": "2"})
    client = make_client(small.url)
    errors = []
    for _ in range(8):
        try:
            client.v1.customers.list({"limit": 1})
        except stripe.RateLimitError as exc:
            errors.append(exc)
    assert errors, "a burst of 8 at 2 req/s must be limited"
    err = errors[0]
    assert err.http_status == 429 and err.headers["Stripe-Should-Retry"] == "true"
    assert err.json_body["error"]["code"] == "rate_limit"
    assert err.json_body["error"]["type"] == "invalid_request_error"
    stats = control(small.url, "/_sandbox/stats")  # control endpoints are never limited
    assert stats["rate_limited_429"] >= len(errors)


@pytest.mark.parametrize(
    "kind, error",
    [
        ("500", stripe.APIError),
        ("truncated", stripe.APIError),
        ("429", stripe.RateLimitError),
        ("timeout", stripe.APIConnectionError),
        ("disconnect", stripe.APIConnectionError),
    ],
)
def test_fault_kinds_at_rate_one(small: SandboxServer, kind: str, error: type[Exception]) -> None:
    before = control(small.url, "/_sandbox/stats")["faults_injected"].get(kind, 0)
    control(small.url, "/_sandbox/config", {"fault_rate": "1", "fault_kinds": kind})
    client = make_client(small.url, http_client=stripe.RequestsClient(timeout=0.5))
    with pytest.raises(error) as exc:
        client.v1.events.list({"limit": 3})
    if kind == "500":
        assert exc.value.http_status == 500 and exc.value.json_body["error"]["type"] == "api_error"
    if kind == "truncated":
        assert "Invalid response body" in str(exc.value)
    assert control(small.url, "/_sandbox/stats")["faults_injected"][kind] == before + 1


def test_config_validation(small: SandboxServer) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as exc:
        control(small.url, "/_sandbox/config", {"fault_rate": "2"})
    assert exc.value.code == 400
    settings = control(small.url, "/_sandbox/config", {"latency_ms": "5"})
    assert settings["latency_ms"] == 5
    assert make_client(small.url).v1.customers.list({"limit": 1}).data


def test_request_log_and_stats(small: SandboxServer) -> None:
    client = make_client(small.url)
    since = control(small.url, "/_sandbox/requests")["latest"]
    client.v1.charges.list({"limit": 2, "created": {"gte": 1}})
    client.v1.customers.list({"limit": 1}, options={"idempotency_key": "ignored-on-get"})
    log = control(small.url, f"/_sandbox/requests?since={since}")
    assert [r["path"] for r in log["requests"]] == ["/v1/charges", "/v1/customers"]
    first = log["requests"][0]
    assert first["params"] == {"limit": "2", "created": {"gte": "1"}} and first["status"] == 200
    assert first["account"] == small.state.platform.id
    assert control(small.url, f"/_sandbox/requests?since={log['next_since']}")["requests"] == []
    stats = control(small.url, "/_sandbox/stats")
    assert stats["requests_by_route"]["GET /v1/charges"] >= 1
    account = stats["accounts"][small.state.platform.id]
    assert account["objects"] == small.state.platform.counts()
    assert account["events"]["customer.created"] == 10


def test_unknown_control_endpoint(small: SandboxServer) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as exc:
        control(small.url, "/_sandbox/nope")
    assert exc.value.code == 404


def test_many_connections_opened_at_once_are_all_accepted(small: SandboxServer) -> None:
    """A sync opens its workers' connections together; none may wait for a SYN resent a
    second later (what a listen backlog of 5 did to the first pages of a backfill)."""
    import select
    import socket
    import time
    from urllib.parse import urlsplit

    address = urlsplit(small.url)
    socks = []
    try:
        started = time.monotonic()
        for _ in range(200):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex((address.hostname, address.port))
            socks.append(sock)
        pending = set(socks)
        while pending and time.monotonic() - started < 0.8:
            _r, writable, _x = select.select([], list(pending), [], 0.05)
            pending -= {
                s for s in writable if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            }
        assert not pending, f"{len(pending)} of 200 connections not accepted within 0.8 s"
    finally:
        for sock in socks:
            sock.close()
