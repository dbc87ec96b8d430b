"""Response headers every dashboard answer carries: no framing, no type sniffing, no referrer.

Streamlit has no setting for custom response headers, so the dashboard is served through
`dashboard/serve.py`: Streamlit's own ASGI app (`st.App`) with this middleware in front. It adds
the headers to every HTTP answer (pages, static files, health); the websocket is guarded by
Streamlit's origin check.
"""

from __future__ import annotations

from typing import Any

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),  # no page of the desk inside another site's frame
    (b"content-security-policy", b"frame-ancestors 'none'"),  # the same, for newer browsers
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """ASGI middleware: add SECURITY_HEADERS to every HTTP response, replacing any given."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
