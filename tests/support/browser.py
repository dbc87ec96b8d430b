"""Reusable end-to-end support: the dashboard as a real `streamlit run` process, headless
Chromium through Playwright, sign-in and screenshots.

    with running_dashboard(env) as app:           # app.url = http://127.0.0.1:<port>
        with chromium() as browser:
            page = browser.new_page()
            sign_in(page, app.url, "approver", PASSWORD)
            open_page(page, "Approvals")
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.receivers import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
START_TIMEOUT_SECONDS = 60


@dataclass
class Dashboard:
    """A running dashboard process."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        """What the process printed so far (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]


def _wait_healthy(url: str, process: subprocess.Popen[str], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                "streamlit exited early:\n" + log_path.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(
        "streamlit did not become healthy:\n" + log_path.read_text(errors="replace")[-4000:]
    )


@contextmanager
def running_dashboard(env: Mapping[str, str], log_dir: Path | None = None) -> Iterator[Dashboard]:
    """Start `streamlit run dashboard/app.py` on a free loopback port with `env` added."""
    port = free_port()
    log_path = (log_dir or ARTIFACTS) / f"streamlit-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "dashboard" / "serve.py"),
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
                "--server.fileWatcherType",
                "none",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    app = Dashboard(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_healthy(app.url, process, log_path)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium (the system's) driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium); CI installs it"
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium: " + reason)
        pytest.skip(reason)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under tests/e2e/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(
    page: Any, base_url: str, username: str, password: str, timeout_ms: int = 30_000
) -> None:
    """Open the dashboard and sign in with a local account; waits for the navigation."""
    from playwright.sync_api import expect

    page.goto(base_url)
    expect(page.get_by_text("Sign in to Ledgerdesk")).to_be_visible(timeout=timeout_ms)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text(f"Signed in as {username}")).to_be_visible(timeout=timeout_ms)


def open_page(page: Any, title: str, timeout_ms: int = 30_000) -> None:
    """Click a page in the sidebar navigation and wait for its title."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=timeout_ms)
