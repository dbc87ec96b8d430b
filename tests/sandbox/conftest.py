"""Fixtures for the sandbox tier: a seeded server per module and real StripeClients pointed at it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

KEY = "sk_test_sandbox"


def make_client(url: str, key: str = KEY, **kwargs: Any) -> stripe.StripeClient:
    """A StripeClient pointed at the sandbox for both the api and files base addresses."""
    return stripe.StripeClient(
        key, base_addresses={"api": url, "files": url}, max_network_retries=0, **kwargs
    )


def control(url: str, path: str, data: dict[str, str] | None = None) -> Any:
    """GET (or POST form data to) a `/_sandbox/...` control endpoint."""
    body = None if data is None else "&".join(f"{k}={v}" for k, v in data.items()).encode()
    req = urllib.request.Request(url + path, data=body, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        err.msg = f"{err.msg}: {err.read().decode()}"  # keep the sandbox's explanation in failures
        raise


@pytest.fixture(scope="module")
def sbx() -> Iterator[SandboxServer]:
    """A seeded sandbox (40 customers, 90 days) for one test module."""
    server = SandboxServer(
        SandboxConfig(port=0, seed=7, customers=40, days=90, connected_accounts=1)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(sbx: SandboxServer) -> stripe.StripeClient:
    """A full-access test-mode client."""
    return make_client(sbx.url)
