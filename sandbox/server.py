"""The HTTP layer: a threading stdlib server speaking Stripe's wire protocol."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from sandbox import API_VERSION, control_api
from sandbox.api import Ctx, dispatch
from sandbox.config import SandboxConfig
from sandbox.errors import ApiError
from sandbox.params import UploadedFile, parse_multipart, parse_query
from sandbox.state import SandboxState

IDEMPOTENCY_TTL = 24 * 3600
MAX_BODY = 32 * 1024 * 1024
RATE_LIMIT_MESSAGE = (
    "Request rate limit exceeded. Learn more about rate limits here "
    "https://stripe.com/docs/rate-limits."
)
_ID_SEGMENT = re.compile(r"^[a-z]+_[A-Za-z0-9_]+$")


def _group(path: str) -> str:
    return "/".join(
        "{id}" if _ID_SEGMENT.match(p) and i > 2 else p for i, p in enumerate(path.split("/"))
    )


def _jsonable(params: Any) -> Any:
    if isinstance(params, UploadedFile):
        return {
            "filename": params.filename,
            "size": len(params.data),
            "sha256": hashlib.sha256(params.data).hexdigest(),
        }
    if isinstance(params, dict):
        return {k: _jsonable(v) for k, v in params.items()}
    if isinstance(params, list):
        return [_jsonable(v) for v in params]
    return params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; on a kept-alive connection Nagle's algorithm
    # would hold the body until the client's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the request log endpoint replaces access logs."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_PUT(self) -> None:  # noqa: N802 - Stripe has no PUT/PATCH: answered as unknown URLs
        self._handle("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    # ------------------------------------------------------------------------------
    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str], truncate: bool = False
    ) -> None:
        raw = json.dumps(body).encode()  # compact: event pages are large and clients do not care
        if truncate:
            raw = raw[: max(1, len(raw) // 2)]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _read_params(self, method: str, query: str) -> dict[str, Any]:
        params = parse_query(query)
        if method != "POST":
            return params
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(413, "Request body too large.")
        body = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            params.update(parse_multipart(ctype, body))
        elif body:
            try:
                params.update(parse_query(body.decode("utf-8")))
            except UnicodeDecodeError:
                raise ApiError(400, "Invalid request body: not UTF-8.") from None
        return params

    def _handle(self, method: str) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        request_id = "req_" + secrets.token_hex(7)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": self.headers.get("Stripe-Version") or API_VERSION,
        }
        if path.startswith("/_sandbox"):
            try:
                params = self._read_params(method, split.query)
                status, body = control_api.handle(state, method, path, params)
            except ApiError as err:
                status, body = err.status, err.body(request_id)
            except ValueError as err:
                status, body = (
                    400,
                    {"error": {"type": "invalid_request_error", "message": str(err)}},
                )
            except Exception as exc:  # never an HTML traceback page
                status, body = 500, {"error": {"type": "api_error", "message": repr(exc)}}
            self._send(status, body, {})
            return
        self._api(state, method, path, split.query, request_id, headers)

    def _api(
        self,
        state: SandboxState,
        method: str,
        path: str,
        query: str,
        request_id: str,
        headers: dict[str, str],
    ) -> None:
        controls = state.controls
        started = state.cfg.now()
        if controls.latency_ms:
            self.server.stopping.wait(controls.latency_ms / 1000)
        entry: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "time": started,
            "idempotency_key": self.headers.get("Idempotency-Key"),
            "account": self.headers.get("Stripe-Account") or state.platform.id,
        }
        status, body = 500, {}  # type: tuple[int, dict[str, Any]]
        try:
            params = self._read_params(method, query)
            entry["params"] = _jsonable(params)
            if not controls.bucket.take():
                controls.count_429()
                raise ApiError(
                    429,
                    RATE_LIMIT_MESSAGE,
                    code="rate_limit",
                    headers={"Stripe-Should-Retry": "true"},
                )
            fault = controls.pick_fault()
            if fault == "429":
                controls.count_429()
                raise ApiError(
                    429,
                    RATE_LIMIT_MESSAGE,
                    code="rate_limit",
                    headers={"Stripe-Should-Retry": "true"},
                )
            if fault == "timeout":
                entry["status"] = "timeout"
                controls.record(entry)
                self.server.stopping.wait(controls.hang_seconds)
                self.close_connection = True
                return
            if fault == "disconnect":
                entry["status"] = "disconnect"
                controls.record(entry)
                self.close_connection = True
                return
            if fault == "500":
                raise ApiError(
                    500,
                    "An unknown error occurred. Please try again.",
                    type_="api_error",
                    headers={"Stripe-Should-Retry": "true"},
                )
            key, restricted = state.authenticate(self.headers.get("Authorization"))
            account = state.account_for(self.headers.get("Stripe-Account"), key)
            entry["account"] = account.id
            if restricted and method != "GET":
                raise ApiError(
                    403,
                    f"The provided key '{_mask(key)}' does not have the required permissions "
                    f"for this endpoint on account '{account.id}'. Having the 'rak_write' "
                    "permission would allow this request to continue.",
                )
            controls.count_request(method, _group(path), account.id)
            ctx = Ctx(account, request_id, self.headers.get("Idempotency-Key"), self.server.url)
            status, body = self._execute(ctx, method, path, params, headers)
            truncate = fault == "truncated"
        except ApiError as err:
            status, body, truncate = err.status, err.body(request_id), False
            headers.update(err.headers)
        except Exception as exc:  # a bug must still answer like Stripe, never a traceback page
            status, body, truncate = (
                500,
                ApiError(
                    500, f"Sandbox internal error: {type(exc).__name__}", type_="api_error"
                ).body(request_id),
                False,
            )
        entry["status"] = status
        controls.record(entry)
        self._send(status, body, headers, truncate)

    def _execute(
        self, ctx: Ctx, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        account = ctx.account
        key = ctx.idempotency_key
        if method != "POST" or not key:
            with account.lock:
                return dispatch(ctx, method, path, params)
        if len(key) > 255:
            raise ApiError(
                400, "Idempotency-Key is too long (max 255 characters).", param="Idempotency-Key"
            )
        fingerprint = hashlib.sha256(
            json.dumps([method, path, _jsonable(params)], sort_keys=True).encode()
        )
        digest = fingerprint.hexdigest()
        with account.lock:
            saved = account.idempotency.get(key)
            if saved and saved["at"] < account.now() - IDEMPOTENCY_TTL:
                saved = None
            if saved is not None:
                if saved["digest"] != digest:
                    raise ApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{key}' if you meant to execute a "
                        "different request.",
                        type_="idempotency_error",
                        headers={"Stripe-Should-Retry": "false"},
                    )
                self.server.state.controls.count_replay()
                headers["Idempotent-Replayed"] = "true"
                headers["Original-Request"] = saved["request_id"]
                return saved["status"], saved["body"]
            try:
                status, body = dispatch(ctx, method, path, params)
            except ApiError as err:
                if err.status >= 500 or err.status == 402:  # the request executed: Stripe saves it
                    account.idempotency[key] = {
                        "digest": digest,
                        "status": err.status,
                        "at": account.now(),
                        "body": err.body(ctx.request_id),
                        "request_id": ctx.request_id,
                    }
                raise
            account.idempotency[key] = {
                "digest": digest,
                "status": status,
                "body": body,
                "at": account.now(),
                "request_id": ctx.request_id,
            }
            headers["Original-Request"] = ctx.request_id
            return status, body


def _mask(key: str) -> str:
    from sandbox.state import mask

    return mask(key)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Stripe accepts every connection a client opens at once. socketserver's listen backlog of
    # 5 drops the rest when a sync opens its workers' connections together, and a dropped SYN
    # is sent again only after a second: the first pages of a backfill took up to 1.5 s.
    request_queue_size = 1024

    def __init__(self, addr: tuple[str, int], state: SandboxState) -> None:
        super().__init__(addr, _Handler)
        self.state = state
        self.stopping = threading.Event()
        self.url = ""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request is normal (timeouts, faults): no traceback on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        print(f"sandbox: request from {client_address[0]} failed: {exc!r}", file=sys.stderr)


class SandboxServer:
    """A running sandbox: `start()` returns the base URL; `state` exposes the data in-process."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.state = SandboxState(self.config)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._live: Any = None
        self.url = ""

    def start(self) -> str:
        """Bind (port 0 picks a free port), serve in a background thread, return the base URL."""
        self._server = _Server((self.config.host, self.config.port), self.state)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host if isinstance(host, str) else host.decode()}:{port}"
        self._server.url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="sandbox-http",
            daemon=True,
        )
        self._thread.start()
        if self.config.live:
            from sandbox.live import LiveActivity

            self._live = LiveActivity(self.state, self.config.live_interval)
            self._live.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._live is not None:
            self._live.stop()
        if self._server is not None:
            self._server.stopping.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until stopped (used by the CLI)."""
        while self._thread is not None and self._thread.is_alive():
            time.sleep(0.5)
