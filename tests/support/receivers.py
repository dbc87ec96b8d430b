"""Real receivers on loopback for outbox tests: an SMTP server (aiosmtpd) and an HTTP endpoint
standing in for a Slack incoming webhook."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Collector:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 OK"


@contextmanager
def smtp_server(
    port: int | None = None, credentials: tuple[str, str] | None = None
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """An SMTP server on 127.0.0.1 (requiring AUTH LOGIN/PLAIN when credentials are given);
    yields (port, received messages)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and credentials is not None
            and (data.login.decode(), data.password.decode()) == credentials
        )
        return AuthResult(success=ok, handled=False)

    collector = _Collector()
    port = port or free_port()
    extra: dict[str, Any] = {}
    if credentials:
        extra = {
            "authenticator": authenticator,
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(collector, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield port, collector.messages
    finally:
        controller.stop()


@contextmanager
def webhook_receiver(
    statuses: list[int] | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP endpoint recording JSON POSTs; answers the given statuses in turn, then 200."""
    received: list[dict[str, Any]] = []
    queue = list(statuses or [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = queue.pop(0) if queue else 200
            if status == 200:
                received.append(json.loads(body))
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"error")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX",
            received,
        )
    finally:
        server.shutdown()
        server.server_close()
