"""In headless Chromium: the dashboard refuses to be framed and loads nothing from the internet."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.support.browser import open_page, sign_in
from tests.support.governance import PASSWORD, make_user

ANTI_FRAMING = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}


@pytest.fixture
def seeded(e2e_db: dict[str, Any]) -> None:
    with e2e_db["Session"].begin() as s:
        make_user(s, "vera", "viewer")


@pytest.fixture
def framing_site(dashboard: Any) -> Iterator[str]:
    """Another origin (a different port) whose page puts the dashboard in an iframe."""
    page = f'<html><body><iframe id="desk" src="{dashboard.url}/"></iframe></body></html>'

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_every_answer_carries_the_anti_framing_headers(seeded: None, dashboard: Any) -> None:
    for path in ("/", "/_stcore/health", "/favicon.png"):
        with urllib.request.urlopen(dashboard.url + path, timeout=10) as resp:
            got = {k.lower(): v for k, v in resp.headers.items()}
        assert {k: got.get(k) for k in ANTI_FRAMING} == ANTI_FRAMING, path


def test_a_page_of_another_site_cannot_frame_the_dashboard(
    seeded: None, dashboard: Any, framing_site: str, browser_page: Any
) -> None:
    page = browser_page
    page.goto(framing_site)
    page.wait_for_timeout(3000)
    framed = [f for f in page.frames if f != page.main_frame]
    assert framed, "the framing page has no iframe"
    # Chromium replaces a refused frame with its error page: nothing of the desk is rendered.
    assert framed[0].url.startswith("chrome-error://"), framed[0].url
    assert "Sign in to Ledgerdesk" not in framed[0].content()


def test_a_page_load_requests_nothing_beyond_127_0_0_1(
    seeded: None, dashboard: Any, browser_page: Any
) -> None:
    page = browser_page
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.on("websocket", lambda ws: seen.append(ws.url))
    sign_in(page, dashboard.url, "vera", PASSWORD)
    expect(page.get_by_role("heading", name="Loading from Stripe")).to_be_visible()  # not synced
    open_page(page, "Sync health")
    page.get_by_test_id("stSidebarNav").get_by_text("Connection", exact=True).click()
    expect(page.get_by_role("heading", name="Connection")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # late favicons and fonts
    assert len(seen) > 10
    icon = page.locator("link[rel='shortcut icon']").get_attribute("href") or ""
    assert icon.startswith("data:image/svg+xml"), icon  # the desk's own icon, inline
    outside = sorted(
        {u for u in seen if urlparse(u).scheme not in ("data", "blob")}
        - {u for u in seen if urlparse(u).hostname == "127.0.0.1"}
    )
    assert outside == [], outside
