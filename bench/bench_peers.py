"""Optional group (`BENCH=peers make bench`): the first start beside Singer's `tap-stripe`.

The race of bench/bench_first_start.py (the desk, a sequential `auto_paging_iter` walk) with a
third contender on the same sandbox, in the same run: `tap-stripe` (TAP_STRIPE below), installed
into its own virtualenv under bench/.venv-peers (gitignored; created on first use), syncing the
streams that match the desk's first load from the same 90-day start date.

How tap-stripe is pointed at the sandbox — it has no setting for the API's address:
- its config has no base URL key, and stripe-python 5 reads none from the environment;
- setting `stripe.api_base` to the sandbox's URL is not enough: the tap wraps every request
  in a timer that takes the stream name from the URL with `http[s]?://api\\.stripe\\.com/v1/`,
  and fails (`'NoneType' object has no attribute 'groups'`) on any other host;
- so the launcher sets `stripe.api_base = "http://api.stripe.com"` (plain HTTP, the host the
  tap expects) and the tap's requests go through an HTTP proxy run here (`HTTP_PROXY`), which
  forwards them to the sandbox. The tap's own code runs unchanged. The proxy also answers the
  tap's start-up `GET /v1/accounts/<id>` (the sandbox has no accounts endpoint) with the
  platform account's id and display name, and drops from later requests an expansion the
  sandbox refused (it has no `sources`), as the desk does. The extra hop costs about a millisecond of the
  100 ms latency, and its CPU is this process's, not the tap's.

The tap's CPU is its process's (os.wait4); its records go to a file, counted afterwards.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(__file__).resolve().parent / ".venv-peers"
TAP_STRIPE = "tap-stripe==3.3.0"
PLATFORM = "acct_1SandboxPlatform0"
# The tap's streams that match the desk's first load (it has no refunds or fraud warnings).
STREAMS = (
    "customers",
    "subscriptions",
    "invoices",
    "charges",
    "payment_intents",
    "disputes",
    "payouts",
    "balance_transactions",
    "events",
)
LAUNCHER = """
import sys
import stripe
stripe.api_base = "http://api.stripe.com"
import tap_stripe
sys.argv = ["tap-stripe", *sys.argv[1:]]
tap_stripe.main()
"""


def ensure_venv() -> Path:
    """bench/.venv-peers with TAP_STRIPE installed; its python."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run(
        [str(python), "-m", "pip", "show", "tap-stripe"], capture_output=True, text=True
    )
    if f"Version: {TAP_STRIPE.split('==')[1]}" not in probe.stdout:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", TAP_STRIPE], check=True, cwd=VENV.parent
        )
    return python


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True
    target: tuple[str, int]
    forwarded = 0
    lock = threading.Lock()
    refused: set[str]  # expansions the sandbox refused ("sources"), no longer asked for


_REFUSED = re.compile(rb"This property cannot be expanded \(([^)]+)\)")


class _Forward(BaseHTTPRequestHandler):
    """`GET http://api.stripe.com/v1/...` (absolute form, as to a proxy) → the sandbox."""

    protocol_version = "HTTP/1.1"
    server: _Proxy
    _local = threading.local()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        return

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _path(self, url: Any) -> str:
        """The request's path and query, less the expansions the sandbox refused."""
        query = [
            (k, v)
            for k, v in parse_qsl(url.query, keep_blank_values=True)
            if not (k.startswith("expand") and any(v.endswith(r) for r in self.server.refused))
        ]
        return url.path + (f"?{urlencode(query)}" if query else "")

    def _forward(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else None
        account = re.fullmatch(r"/v1/accounts/([A-Za-z0-9_]+)", url.path)
        if account:
            body = {
                "id": account.group(1),
                "object": "account",
                "settings": {"dashboard": {"display_name": "Ledgerdesk sandbox"}},
            }
            self._reply(200, json.dumps(body).encode(), [("Content-Type", "application/json")])
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(*self.server.target)
        skip = ("host", "proxy-connection", "connection", "content-length")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        while True:
            conn.request(self.command, self._path(url), payload, headers)
            answer = conn.getresponse()
            data = answer.read()
            with self.server.lock:
                self.server.forwarded += 1
            refused = _REFUSED.search(data) if answer.status == 400 else None
            if refused is None or refused.group(1).decode() in self.server.refused:
                break
            # A field this sandbox cannot expand (it has no `sources`, say): ask without it.
            with self.server.lock:
                self.server.refused.add(refused.group(1).decode())
        self._reply(answer.status, data, answer.getheaders())

    do_GET = _forward
    do_POST = _forward


def _tap(python: Path, url: str, folder: Path) -> dict[str, Any]:
    """tap-stripe's first sync against the sandbox, through the proxy; its figures."""
    target = urlsplit(url)
    proxy = _Proxy(("127.0.0.1", 0), _Forward)
    proxy.target = (target.hostname or "127.0.0.1", target.port or 80)
    proxy.refused = set()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "HTTP_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}",
        "http_proxy": f"http://127.0.0.1:{proxy.server_address[1]}",
        "NO_PROXY": "",
        "no_proxy": "",
    }
    start = (datetime.now(UTC) - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = folder / "config.json"
    config.write_text(
        json.dumps(
            {
                "client_secret": "sk_test_sandbox",
                "account_id": PLATFORM,
                "start_date": start,
                "request_timeout": 60,
            }
        )
    )
    base = [str(python), "-c", LAUNCHER, "--config", str(config)]
    try:
        found = subprocess.run(
            [*base, "--discover"], capture_output=True, text=True, env=env, timeout=300
        )
        if found.returncode != 0:
            return {"failed": (found.stderr.strip().splitlines() or ["no output"])[-1][:300]}
        catalog = json.loads(found.stdout)
        for stream in catalog["streams"]:
            if stream["tap_stream_id"] in STREAMS:
                for entry in stream["metadata"]:
                    if entry["breadcrumb"] == []:
                        entry["metadata"]["selected"] = True
        (folder / "catalog.json").write_text(json.dumps(catalog))
        before = proxy.forwarded
        out, err = folder / "records.jsonl", folder / "tap.log"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            t0 = time.perf_counter()
            tap = subprocess.Popen(
                [*base, "--catalog", str(folder / "catalog.json")],
                stdout=stdout,
                stderr=stderr,
                env=env,
            )
            _, status, usage = os.wait4(tap.pid, 0)
            seconds = time.perf_counter() - t0
        if status != 0:
            tail = err.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            return {"failed": tail[0][:300]}
        records = sum(1 for line in out.open("rb") if b'"type": "RECORD"' in line[:40])
        return {
            "seconds": round(seconds, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "requests": proxy.forwarded - before,
            "records": records,
            "streams": list(STREAMS),
            "expansions_dropped": sorted(proxy.refused),
        }
    finally:
        proxy.shutdown()
        proxy.server_close()


def run() -> dict[str, Any]:
    """The first-start race with tap-stripe as a third contender."""
    sys.path.insert(0, str(ROOT))
    from bench.bench_first_start import RATE, race, versus

    python = ensure_venv()

    def with_tap(url: str) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="ledgerdesk-peers-") as folder:
            return {"tap_stripe": _tap(python, url, Path(folder))}

    out = race(with_tap)
    tap = out["tap_stripe"]
    if "failed" not in tap:
        rate = tap["requests"] / tap["seconds"]
        tap["request_rate"] = f"{rate:.1f}/s ({rate / RATE:.1%} of the {RATE:g}/s limit)"
        out["desk_vs_tap_stripe"] = versus(out["desk"], tap)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
