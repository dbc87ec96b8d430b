"""Start the sandbox Stripe server on 127.0.0.1 for a test, and a StripeClient pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SANDBOX_KEY = "sk_test_sandbox"


@contextmanager
def running_sandbox(**config: Any) -> Iterator[Any]:
    """A running SandboxServer (seeded, small by default); stopped afterwards."""
    from sandbox.server import SandboxConfig, SandboxServer

    config.setdefault("host", "127.0.0.1")
    config.setdefault("port", 0)
    config.setdefault("seed", 7)
    config.setdefault("customers", 40)
    config.setdefault("days", 60)
    server = SandboxServer(SandboxConfig(**config))
    server.start()
    try:
        yield server
    finally:
        server.stop()
