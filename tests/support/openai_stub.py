"""An OpenAI-compatible HTTP stub on 127.0.0.1: /v1/chat/completions with scripted replies.

Tests drive it through the real `openai` client. `replies` is a list of callables or dicts:
a dict is returned as the message content (JSON-encoded); a callable gets the request body and
returns the content. Every request body is kept in `requests` for assertions.

A reply `{"tool_calls": [{"name": ..., "arguments": {...} or "raw text"}]}` answers with tool
calls instead of text (finish_reason "tool_calls"), as a function-calling model does. `usage`
sets the token counts every answer reports.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = dict[str, Any] | str | Callable[[dict[str, Any]], Any]


class OpenAIStub:
    """A running stub; `url` is the base URL to give the client (ends in /v1)."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.usage = (120, 40)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(
                        404,
                        {
                            "error": {
                                "message": "not found",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                    return
                stub.requests.append(body)
                if stub.status != 200:
                    self._send(
                        stub.status,
                        {"error": {"message": "stub error", "type": "server_error"}},
                    )
                    return
                reply = stub.replies.pop(0) if stub.replies else {"parts": {}}
                content = reply(body) if callable(reply) else reply
                message: dict[str, Any]
                if isinstance(content, dict) and set(content) == {"tool_calls"}:
                    calls = [
                        {
                            "id": f"call_{len(stub.requests)}_{n}",
                            "type": "function",
                            "function": {
                                "name": c["name"],
                                "arguments": c["arguments"]
                                if isinstance(c["arguments"], str)
                                else json.dumps(c["arguments"]),
                            },
                        }
                        for n, c in enumerate(content["tool_calls"])
                    ]
                    message = {"role": "assistant", "content": None, "tool_calls": calls}
                    finish = "tool_calls"
                else:
                    text = content if isinstance(content, str) else json.dumps(content)
                    message = {"role": "assistant", "content": text}
                    finish = "stop"
                prompt_tokens, completion_tokens = stub.usage
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(stub.requests)}",
                        "object": "chat.completion",
                        "created": 1_770_000_000,
                        "model": body.get("model", "stub-model"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": finish,
                                "message": message,
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        },
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_openai_stub() -> Iterator[OpenAIStub]:
    """A started stub, stopped afterwards."""
    stub = OpenAIStub()
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
