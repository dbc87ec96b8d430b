"""The webhook endpoint's HTTP side: a Starlette app under uvicorn, with limits on what it reads.

    server = WebhookServer(receiver, "127.0.0.1", 8765)   # receiver: handle() and count_reject()
    server.start()       # background thread; or server.serve_forever() in this one
    server.url           # http://127.0.0.1:8765/webhook

Deliveries are `POST /webhook`; the verifying and storing is the receiver's (core/sync), run in a
worker thread so the event loop keeps reading other connections. What this module refuses, each
with a JSON answer naming the reason and counted through `count_reject`:

- a declared or streamed body over `max_body_bytes` → 413 `too_large` (nothing more is read);
- a body that has not fully arrived `read_timeout_seconds` after its headers → 408 `slow_body`;
- a connection whose request headers have not arrived within `read_timeout_seconds` → 408
  `slow_headers`, written on the socket before it is closed (uvicorn itself only times out idle
  keep-alive connections, so a client trickling a header would otherwise be kept for ever);
- a connection beyond `max_connections` open at once → 503 `busy`, at once;
- a malformed request line or headers (uvicorn's own 400, headers capped at 16 KiB) →
  counted as `bad_http`.

A slow client costs one idle socket, not a thread, so forty of them do not delay anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import anyio
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from core.config import WebhookLimits

PATH = "/webhook"
MAX_HEADER_BYTES = 16 * 1024
FLUSH_SECONDS = 0.5
log = logging.getLogger("ledgerdesk.webhook")


class DeliveryHandler(Protocol):
    """What the HTTP side needs from the receiver."""

    limits: WebhookLimits

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify and store one delivery; return (HTTP status, JSON answer)."""
        ...

    def count_reject(self, reason: str, detail: str, times: int = 1) -> None:
        """Count refusals by reason."""
        ...


class _Refused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


def _json(status: int, body: dict[str, Any], *, close: bool = False) -> Response:
    headers = {"connection": "close"} if close else None  # unread bytes must not be parsed
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _error(status: int, reason: str, message: str) -> bytes:
    return orjson.dumps({"error": {"type": reason, "message": message}})


async def _read_body(request: Request, limits: WebhookLimits) -> bytes:
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:  # h11 checked it
        message = f"the body is {int(declared):,} bytes, over the {limit:,}-byte limit"
        raise _Refused(413, "too_large", message)
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(limits.read_timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _Refused(413, "too_large", f"the body is over the {limit:,}-byte limit")
                chunks.append(chunk)
    except TimeoutError:
        raise _Refused(
            408,
            "slow_body",
            f"the body did not arrive within {limits.read_timeout_seconds:g} s of the headers",
        ) from None
    return b"".join(chunks)


def build_app(receiver: DeliveryHandler) -> Starlette:
    """The ASGI app: `POST /webhook` verified and stored by `receiver`."""

    async def deliver(request: Request) -> Response:
        try:
            body = await _read_body(request, receiver.limits)
        except _Refused as exc:
            await anyio.to_thread.run_sync(receiver.count_reject, exc.reason, str(exc))
            return _json(
                exc.status, {"error": {"type": exc.reason, "message": str(exc)}}, close=True
            )
        status, answer = await anyio.to_thread.run_sync(
            receiver.handle, body, request.headers.get("stripe-signature")
        )
        return _json(status, answer)

    async def wrong_method(request: Request) -> Response:
        return _json(405, {"error": {"type": "method", "message": "send webhooks with POST"}})

    return Starlette(
        routes=[Route(PATH, deliver, methods=["POST"]), Route(PATH, wrong_method, methods=["GET"])]
    )


class _Tally:
    """Refusals seen on the event loop, written in one worker-thread call per second at most,
    so a flood of connections costs a few counter updates, not one database write each."""

    def __init__(self, receiver: DeliveryHandler) -> None:
        self.receiver = receiver
        self.pending: dict[str, tuple[int, str]] = {}
        self.scheduled = False

    def add(self, loop: asyncio.AbstractEventLoop, reason: str, detail: str) -> None:
        times, _ = self.pending.get(reason, (0, ""))
        self.pending[reason] = (times + 1, detail)
        if not self.scheduled:
            self.scheduled = True
            loop.call_later(FLUSH_SECONDS, self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self.pending, self.scheduled = self.pending, {}, False
        loop.run_in_executor(None, self._write, batch)

    def write_pending(self) -> None:
        """Write what is still waiting (the server has stopped: no loop will flush it)."""
        batch, self.pending = self.pending, {}
        self._write(batch)

    def _write(self, batch: dict[str, tuple[int, str]]) -> None:
        for reason, (times, detail) in batch.items():
            try:
                self.receiver.count_reject(reason, detail, times)
            except Exception:  # noqa: BLE001 - a counter must never take the endpoint down
                log.exception("could not count %d webhook refusals (%s)", times, reason)


def _guarded_protocol(receiver: DeliveryHandler, tally: _Tally) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with a deadline for request headers and a connection cap."""
    limits = receiver.limits

    class GuardedH11(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _count(self, reason: str, detail: str) -> None:
            tally.add(self.loop, reason, detail)

        def _refuse_raw(self, status: int, phrase: str, reason: str, message: str) -> None:
            body = _error(status, reason, message)
            head = (
                f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            ).encode()
            self._count(reason, message)
            self.transport.write(head + body)
            self.transport.close()

        def _arm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(
                limits.read_timeout_seconds, self._head_deadline
            )

        def _head_deadline(self) -> None:
            waiting = self.cycle is None or self.cycle.response_complete
            if waiting and not self.transport.is_closing():
                self._refuse_raw(
                    408,
                    "Request Timeout",
                    "slow_headers",
                    f"the request headers did not arrive within {limits.read_timeout_seconds:g} s",
                )

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                self._refuse_raw(
                    503,
                    "Service Unavailable",
                    "busy",
                    f"over {limits.max_connections} connections are open; retry shortly",
                )
                return
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_timer()  # the next request on a kept-alive connection

        def send_400_response(self, msg: str) -> None:
            self._count("bad_http", msg)
            super().send_400_response(msg)

    return GuardedH11


class WebhookServer:
    """uvicorn serving the webhook app on a socket bound at construction; `start()` gives its URL."""

    def __init__(self, receiver: DeliveryHandler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.create_server((host, port))
        self.tally = _Tally(receiver)
        config = uvicorn.Config(
            build_app(receiver),
            http=_guarded_protocol(receiver, self.tally),
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=5,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to send webhooks."""
        host, port = self.sock.getsockname()[:2]
        return f"http://{host!s}:{port}{PATH}"

    def start(self) -> str:
        """Serve in a background thread; return once it accepts connections."""
        self._thread = threading.Thread(target=self._run, daemon=True, name="webhook-server")
        self._thread.start()
        _wait_until(lambda: self.server.started, 10)
        return self.url

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.tally.write_pending()

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C or SIGTERM)."""
        self._run()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.sock.close()


def _wait_until(ready: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the webhook server did not start within {seconds:g} s")
        time.sleep(0.02)
