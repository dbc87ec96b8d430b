"""Webhook receiver: verify `Stripe-Signature`, store the event through ingestion, answer fast.

Processing is left to the queue (`jobs process`), so a delivery is answered in milliseconds.
Refusals are clear 4xx answers and are counted per reason in `webhook_rejects`:
missing/malformed/bad signature and stale timestamps (400), bodies over the size limit (413),
non-JSON bodies (400). Works with `stripe listen --forward-to http://127.0.0.1:PORT/webhook`.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.adapters.stripe_gateway import verify_webhook_signature
from core.db import insert_ignore
from core.errors import WebhookRejected
from core.models.sync import WebhookReject
from core.sync.ingest import ingest_events

MAX_BODY_BYTES = 1024 * 1024
TOLERANCE_SECONDS = 300
log = logging.getLogger("ledgerdesk.webhook")


class WebhookReceiver:
    """The receiver's logic, independent of the HTTP server that feeds it."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        secrets: list[str],
        *,
        tolerance: int = TOLERANCE_SECONDS,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.Session = session_factory
        self.secrets = [s for s in secrets if s]
        self.tolerance = tolerance
        self.max_body = max_body

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify and store one delivery; return (HTTP status, JSON answer)."""
        try:
            event = self._verify(body, signature)
        except WebhookRejected as exc:
            self.count_reject(exc.reason, str(exc))
            return exc.status, {"error": {"type": exc.reason, "message": str(exc)}}
        account = event.get("account") if isinstance(event.get("account"), str) else ""
        with self.Session.begin() as session:
            result = ingest_events(session, [event], account=account or "", source="webhook")
        return 200, {
            "received": True,
            "duplicate": result.duplicates > 0,
            "stored": result.new > 0 or result.dead > 0,
        }

    def _verify(self, body: bytes, signature: str | None) -> dict[str, Any]:
        if not self.secrets:
            raise WebhookRejected(
                "no_secret",
                "the receiver has no STRIPE_WEBHOOK_SECRET configured",
                status=503,
            )
        failure: WebhookRejected | None = None
        for secret in self.secrets:  # several secrets while one is being rotated
            try:
                verify_webhook_signature(body, signature, secret, self.tolerance)
                break
            except WebhookRejected as exc:
                failure = exc
                if exc.reason != "bad_signature":
                    raise
        else:
            assert failure is not None
            raise failure
        try:
            event = json.loads(body)
        except ValueError:
            raise WebhookRejected("bad_body", "the body is not valid JSON") from None
        if not isinstance(event, dict):
            raise WebhookRejected("bad_body", "the body is not a JSON object")
        return event

    def count_reject(self, reason: str, detail: str) -> None:
        """Add one to the reject counter of `reason`."""
        table = WebhookReject.__table__
        now = datetime.now(UTC)
        with self.Session.begin() as session:
            insert_ignore(
                session,
                table,  # type: ignore[arg-type]
                [{"reason": reason, "count": 0, "last_at": now, "last_detail": None}],
                ["reason"],
            )
            session.execute(
                table.update()  # type: ignore[attr-defined]
                .where(table.c.reason == reason)
                .values(count=table.c.count + 1, last_at=now, last_detail=detail[:500])
            )
        log.warning("webhook rejected (%s): %s", reason, detail)


def _handler_class(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length_header = self.headers.get("Content-Length")
            if length_header is None or not length_header.isdigit():
                receiver.count_reject("no_length", "request without Content-Length")
                self.close_connection = True
                self._answer(
                    411,
                    {
                        "error": {
                            "type": "no_length",
                            "message": "Content-Length required",
                        }
                    },
                )
                return
            length = int(length_header)
            if length > receiver.max_body:
                message = f"the body is {length:,} bytes, over the {receiver.max_body:,}-byte limit"
                receiver.count_reject("too_large", message)
                self.close_connection = True  # the unread body must not be parsed as a request
                self._answer(413, {"error": {"type": "too_large", "message": message}})
                return
            body = self.rfile.read(length)
            status, answer = receiver.handle(body, self.headers.get("Stripe-Signature"))
            self._answer(status, answer)

        def do_GET(self) -> None:
            self._answer(405, {"error": {"message": "send webhooks with POST"}})

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler


class WebhookServer:
    """A threading HTTP server for the receiver; `start()` returns its URL."""

    def __init__(self, receiver: WebhookReceiver, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _handler_class(receiver))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to send webhooks."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/webhook"

    def start(self) -> str:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self.httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
