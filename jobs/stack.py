"""`python -m jobs up` (what `make run` calls): the whole desk on this machine.

With no STRIPE_API_KEY it starts the sandbox in live mode on loopback with a seeded account;
then the scheduler and the dashboard. It prints the URL and stops everything on Ctrl-C. While it
runs, <data dir>/run.json tells other commands (`python -m jobs status` in another terminal)
where its sandbox and database are; it holds no secret.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from core.config import (
    PROJECT_ROOT,
    RUN_FILE_NAME,
    SANDBOX_API_KEY,
    Settings,
    load_settings,
    read_run_file,
    redact_url,
)
from core.errors import ConfigError
from core.governance.auth import ensure_demo_users
from core.imports import IMPORTERS
from jobs.runtime import Runtime, open_runtime

HELP = "start the desk: sandbox (when no STRIPE_API_KEY), scheduler and dashboard"
SANDBOX_KEY = SANDBOX_API_KEY


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Ports and the demo account's size."""
    parser.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")
    parser.add_argument("--sandbox-port", type=int, default=12111, help="sandbox port")
    parser.add_argument("--seed", type=int, default=42, help="seed of the demo account")
    parser.add_argument("--customers", type=int, default=300, help="customers in the demo account")
    parser.add_argument("--no-scheduler", action="store_true", help="do not start the scheduler")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _wait_http(url: str, seconds: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise ConfigError(
                f"{url} did not start (exit code {proc.returncode}); see the log above."
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise ConfigError(f"{url} did not answer within {seconds:.0f} s.")


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _has_command(name: str) -> bool:
    from jobs.commands import COMMANDS

    return name in COMMANDS


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # stop like Ctrl-C: the `finally` below stops every child


def run(args: argparse.Namespace) -> int:
    """Start the processes, print where to go, and wait for Ctrl-C."""
    # `kill PID`, a closed terminal or a service manager send SIGTERM / SIGHUP to this process
    # alone; without this Python would exit at once and leave the sandbox, scheduler and
    # dashboard running with nobody to stop them.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    env = dict(os.environ)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    settings = load_settings()
    running = read_run_file(settings.data_dir)
    if running is not None:
        raise ConfigError(
            f"a desk is already running from {settings.data_dir} (process {running['pid']}, "
            f"{running.get('url', '')}): stop it first, or set LEDGERDESK_DATA_DIR to another "
            f"folder (delete {settings.data_dir / RUN_FILE_NAME} if that process is no desk)."
        )
    base = ""
    try:
        if not settings.stripe_api_key:
            port = args.sandbox_port
            if not _free(port):
                raise ConfigError(
                    f"port {port} is in use: stop what uses it or pass --sandbox-port N."
                )
            exports = settings.data_dir / "sandbox_exports"
            cmd = _python(
                "-m", "jobs", "sandbox", "--host", "127.0.0.1", "--port", str(port),
                "--seed", str(args.seed), "--customers", str(args.customers), "--live",
                "--exports-dir", str(exports),
            )  # fmt: skip
            procs.append(("sandbox", subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env)))
            base = f"http://127.0.0.1:{port}"
            _wait_http(base + "/_sandbox/stats", 180, procs[-1][1])
            env.update(STRIPE_API_KEY=SANDBOX_KEY, STRIPE_API_BASE=base, LEDGERDESK_SANDBOX="1")
            print(f"sandbox Stripe running at {base} (demo data, no real money)")
        os.environ.update(env)
        settings = load_settings()
        _prepare_store(settings)
        if not args.no_scheduler and _has_command("scheduler"):
            cmd = _python("-m", "jobs", "scheduler")
            procs.append(("scheduler", subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env)))
        if not _free(args.port):
            raise ConfigError(f"port {args.port} is in use: stop what uses it or pass --port N.")
        cmd = _python(
            "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard" / "serve.py"),
            "--server.address", "127.0.0.1", "--server.port", str(args.port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        )  # fmt: skip
        procs.append(("dashboard", subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env)))
        url = f"http://127.0.0.1:{args.port}"
        _wait_http(url + "/_stcore/health", 120, procs[-1][1])
        _write_run_file(settings, url, base)
        print(f"\nLedgerdesk is running: {url}\nPress Ctrl-C to stop.\n", flush=True)
        while all(p.poll() is None for _, p in procs):
            time.sleep(1)
        stopped = [n for n, p in procs if p.poll() is not None]
        print(f"{', '.join(stopped)} stopped; shutting down the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…")
        return 0
    finally:
        _stop_all(procs)
        _remove_run_file(settings)


def _write_run_file(settings: Settings, url: str, sandbox_url: str) -> None:
    """Tell other commands where this desk is: its process, URL, sandbox and database.

    No secret goes in: the sandbox's key is its fixed test key (core.config.SANDBOX_API_KEY), and
    a database URL with a password is left out (commands then need DATABASE_URL themselves).
    """
    info: dict[str, Any] = {"pid": os.getpid(), "url": url, "started_at": int(time.time())}
    if sandbox_url:
        info["sandbox_url"] = sandbox_url
    if redact_url(settings.database_url) == settings.database_url:
        info["database_url"] = settings.database_url
    path = settings.data_dir / RUN_FILE_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _remove_run_file(settings: Settings) -> None:
    path = settings.data_dir / RUN_FILE_NAME
    running = read_run_file(settings.data_dir)
    if running is not None and running.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def _prepare_store(settings: Settings) -> None:
    """Migrate; in sandbox mode create demo users and load the demo CSVs."""
    rt = open_runtime(settings)
    if not rt.settings.sandbox:
        return
    with rt.Session.begin() as session:
        created = ensure_demo_users(session)
    if created:
        print("\nDemo users (one-time passwords, shown only now):")
        for username, role, password in created:
            print(f"  {username:<10} {role:<9} {password}")
    _load_demo_exports(rt)


def _load_demo_exports(rt: Runtime) -> None:
    """Import the sandbox's CRM / help-desk / entitlement / bank CSVs through the importers."""
    folder = rt.settings.data_dir / "sandbox_exports"
    files = {
        "crm": "crm_accounts.csv",
        "tickets": "helpdesk_tickets.csv",
        "entitlements": "entitlements.csv",
        "bank": "bank_statement.csv",
    }
    for kind, name in files.items():
        path = folder / name
        if kind in IMPORTERS and path.exists():
            with rt.Session.begin() as session:
                result = IMPORTERS[kind].run(session, path)
            print(f"demo {kind} import: {result.summary()}")


def _stop_all(procs: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _, proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.time() + 10
    for _, proc in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
