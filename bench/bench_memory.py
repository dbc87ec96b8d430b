"""Benchmark: the scheduler's memory over a run of `make run`, at 300 and at 5,000 customers.

For each size, what `make run` starts without a Stripe key, minus the dashboard: the sandbox in
live mode (seed 42), the store prepared the way `python -m jobs up` does (migrations, demo users,
the demo CSV imports), then `python -m jobs scheduler` on a fresh SQLite file. The scheduler's
resident memory is read from /proc every few seconds; its peak is the kernel's high-water mark
(VmHWM). The sizes run side by side, each in its own data folder, ports and processes.

    BENCH=memory make bench                    # 10 minutes, 300 and 5,000 customers
    MEMORY_BENCH_SECONDS=120 python -m bench memory
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (300, 5000)
SAMPLE_SECONDS = 5.0
SANDBOX_KEY = "sk_test_sandbox"


def _seconds() -> float:
    return float(os.environ.get("MEMORY_BENCH_SECONDS", "600"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_kib(pid: int, field: str) -> int:
    """A VmRSS / VmHWM line of /proc/<pid>/status, in KiB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 900) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} did not start (exit code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=60):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def _stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + "/_sandbox/stats", timeout=30) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def measure(customers: int, seconds: float, folder: Path) -> dict[str, Any]:
    """Start a sandbox of `customers` and a scheduler; sample the scheduler for `seconds`."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(folder)),
        "LEDGERDESK_DATA_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{folder / 'ledgerdesk.db'}",
    }
    sandbox_cmd = [
        sys.executable, "-m", "jobs", "sandbox", "--host", "127.0.0.1", "--port", str(port),
        "--seed", "42", "--customers", str(customers), "--live",
        "--exports-dir", str(folder / "sandbox_exports"),
    ]  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    log = (folder / "scheduler.log").open("wb")
    try:
        sandbox = subprocess.Popen(
            sandbox_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        procs.append(sandbox)
        _wait_http(base + "/_sandbox/stats", sandbox)
        env |= {"STRIPE_API_KEY": SANDBOX_KEY, "STRIPE_API_BASE": base, "LEDGERDESK_SANDBOX": "1"}
        prepare = (
            "from core.config import load_settings; from jobs.stack import _prepare_store; "
            "_prepare_store(load_settings())"
        )
        subprocess.run(
            [sys.executable, "-c", prepare], cwd=ROOT, env=env, check=True, capture_output=True
        )
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "jobs", "scheduler"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(scheduler)
        started = time.monotonic()
        samples: list[tuple[float, float]] = []
        while time.monotonic() - started < seconds and scheduler.poll() is None:
            samples.append(
                (
                    round(time.monotonic() - started),
                    round(_proc_kib(scheduler.pid, "VmRSS") / 1024, 1),
                )
            )
            time.sleep(SAMPLE_SECONDS)
        peak = _proc_kib(scheduler.pid, "VmHWM") / 1024
        alive = scheduler.poll() is None
        counts = _stats(base)["accounts"]
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
    platform = next(iter(counts.values()))
    lines = (folder / "scheduler.log").read_text(errors="replace").splitlines()
    jobs_ok = sum(1 for line in lines if " ok in " in line)
    failed = [line for line in lines if "FAILED" in line]
    half = [rss for t, rss in samples if t >= seconds / 2]
    return {
        "customers": customers,
        "objects": sum(platform["objects"].values()),
        "events": sum(platform["events"].values()),
        "seconds": seconds,
        "scheduler_alive_at_end": alive,
        "peak_rss_mb": round(peak, 1),
        "rss_end_mb": samples[-1][1] if samples else None,
        "rss_max_second_half_mb": max(half) if half else None,
        "jobs_ok": jobs_ok,
        "jobs_failed": len(failed),
        "first_failure": failed[0][-300:] if failed else None,
        "rss_samples_mb": samples[:: max(1, len(samples) // 40)],
    }


def run() -> dict[str, Any]:
    """Both sizes side by side; peak RSS per size and the ratio 5,000 / 300."""
    seconds = _seconds()
    load_before = os.getloadavg()
    results: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []
    with tempfile.TemporaryDirectory(prefix="ledgerdesk-memory-") as tmp:

        def one(size: int) -> None:
            folder = Path(tmp) / f"c{size}"
            folder.mkdir()
            try:
                results[size] = measure(size, seconds, folder)
            except BaseException as exc:  # noqa: BLE001 - reported below, the other size goes on
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(size,)) for size in SIZES]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    small, large = (results[s] for s in SIZES)
    return {
        "setup": f"scheduler of `make run` (no dashboard), SQLite, sandbox live, {seconds:.0f} s",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        **{f"peak_rss_mb_{s}": results[s]["peak_rss_mb"] for s in SIZES},
        "peak_ratio_5000_over_300": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2),
        "sizes": results,
    }
