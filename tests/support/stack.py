"""`make run`'s stack for browser journeys: `python -m jobs up` as a real subprocess.

    with running_stack(tmp_path) as stack:   # sandbox + scheduler + dashboard on free ports
        stack.url, stack.sandbox_url, stack.passwords["operator"], stack.session()

It runs in its own process group, so teardown can signal (SIGINT, as Ctrl-C would) and, if
need be, kill everything it started; teardown fails loudly when a process outlives it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_sessionmaker
from tests.support.receivers import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 240  # sandbox generation + migrations + streamlit on a loaded 2-core box
STOP_TIMEOUT_SECONDS = 30
DEMO_ROLES = ("operator", "approver", "approver2", "admin", "viewer")
# Settings that would point the stack somewhere else than its own sandbox and data folder.
CLEARED_ENV = (
    "STRIPE_API_KEY",
    "STRIPE_API_BASE",
    "STRIPE_ACCOUNTS",
    "LEDGERDESK_SANDBOX",
    "DATABASE_URL",
    "SMTP_URL",
    "SLACK_WEBHOOK_URL",
    "OPENAI_API_KEY",
)
T = TypeVar("T")


@dataclass
class Stack:
    """A running `python -m jobs up` and what it printed."""

    url: str
    sandbox_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    passwords: dict[str, str] = field(default_factory=dict)
    sessions: sessionmaker[Session] | None = None

    def log(self, tail: int = 6000) -> str:
        """What the stack printed so far (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-tail:]

    def session(self) -> Session:
        """A session on the stack's own database."""
        assert self.sessions is not None
        return self.sessions()

    def sandbox_requests(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The sandbox's API request log after `since`; returns (entries, latest seq)."""
        entries: list[dict[str, Any]] = []
        while True:
            url = f"{self.sandbox_url}/_sandbox/requests?since={since}&limit=10000"
            with urllib.request.urlopen(url, timeout=10) as resp:
                page = json.loads(resp.read())
            entries.extend(page["requests"])
            if not page["requests"] or page["next_since"] >= page["latest"]:
                return entries, int(page["latest"])
            since = int(page["next_since"])

    def wait_for(
        self, what: str, probe: Callable[[], T | None], timeout: float = 120, every: float = 1.0
    ) -> T:
        """Poll `probe` until it returns something truthy; fail with the stack's log otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = probe()
            if found:
                return found
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited while waiting for {what}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"gave up waiting for {what} after {timeout:.0f} s:\n{self.log()}"
                )
            time.sleep(every)


def _stack_env(data_dir: Path, sync_interval: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(
        LEDGERDESK_DATA_DIR=str(data_dir),
        SYNC_INTERVAL_SECONDS=str(sync_interval),
        PYTHONUNBUFFERED="1",  # the one-time passwords must reach the log as they are printed
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
        STREAMLIT_SERVER_FILE_WATCHER_TYPE="none",
    )
    return env


def _parse_started(text: str) -> tuple[str, dict[str, str]] | None:
    found = re.search(r"Ledgerdesk is running: (http://\S+)", text)
    if not found:
        return None
    passwords = {}
    for role in DEMO_ROLES:
        m = re.search(rf"^\s+{role}\s+\w+\s+(\S+)\s*$", text, re.MULTILINE)
        if m:
            passwords[role] = m.group(1)
    return found.group(1), passwords


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(process: subprocess.Popen[bytes]) -> list[str]:
    """SIGINT the whole group (Ctrl-C); kill what is left; report what had to be killed."""
    pgid = process.pid  # start_new_session=True: the leader's pid is the group id
    problems: list[str] = []
    if _group_alive(pgid):
        os.killpg(pgid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        problems.append("`jobs up` ignored SIGINT")
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_alive(pgid):
        problems.append("processes of the stack outlived SIGINT")
        os.killpg(pgid, signal.SIGKILL)
        while _group_alive(pgid) and time.monotonic() < deadline + 10:
            time.sleep(0.2)
    if process.poll() is None:
        process.wait(timeout=10)
    return problems


@contextmanager
def running_stack(
    data_dir: Path,
    *,
    log_dir: Path | None = None,
    customers: int = 300,
    sync_interval: int = 5,
) -> Iterator[Stack]:
    """Start `python -m jobs up` (sandbox, scheduler, dashboard) on free loopback ports."""
    port, sandbox_port = free_port(), free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = (log_dir or data_dir) / f"stack-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "jobs", "up", "--port", str(port),
        "--sandbox-port", str(sandbox_port), "--customers", str(customers),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=_stack_env(data_dir, sync_interval),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown reaches every child
        )
    stack = Stack(
        url="",
        sandbox_url=f"http://127.0.0.1:{sandbox_port}",
        data_dir=data_dir,
        process=process,
        log_path=log_path,
    )
    engine = None
    try:
        url, passwords = stack.wait_for(
            "`jobs up` to print its URL",
            lambda: _parse_started(stack.log(tail=10**6)),
            timeout=START_TIMEOUT_SECONDS,
            every=0.5,
        )
        missing = [r for r in DEMO_ROLES if r not in passwords]
        if missing:
            raise RuntimeError(f"no one-time password printed for {missing}:\n{stack.log()}")
        stack.url, stack.passwords = url, passwords
        engine = make_engine(f"sqlite:///{data_dir / 'ledgerdesk.db'}")
        stack.sessions = make_sessionmaker(engine)
        yield stack
    except BaseException:
        _stop(process)  # the original error is what matters; do not mask it
        raise
    else:
        problems = _stop(process)
        if problems:
            raise RuntimeError("; ".join(problems) + ":\n" + stack.log())
    finally:
        if engine is not None:
            engine.dispose()
