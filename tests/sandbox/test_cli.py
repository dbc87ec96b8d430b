"""The sandbox command line: clear one-line errors for bad flags, clean start and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sandbox.cli import main
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--port", "abc"], "--port must be an integer"),
        (["--fault-rate", "1.5"], "--fault-rate must be between 0 and 1"),
        (["--customers", "0"], "--customers must be > 0"),
        (["--days", "-3"], "--days must be > 0"),
        (["--rate-limit", "-1"], "--rate-limit must be >= 0"),
        (["--latency-ms", "x"], "--latency-ms must be an integer"),
        (["--wat"], "unrecognized arguments: --wat"),
    ],
)
def test_bad_flags_exit_2_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with SandboxServer(SandboxConfig(port=0, customers=3, days=31)) as busy:
        port = busy.url.rsplit(":", 1)[1]
        assert main(["--port", port, "--customers", "3", "--days", "31", "--exports-dir", ""]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err


def test_starts_prints_url_and_key_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--customers",
            "5",
            "--days",
            "35",
            "--exports-dir",
            str(tmp_path / "exports"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Stripe sandbox listening on http://127.0.0.1:")
        url = first.split()[-1]
        assert "sk_test_sandbox" in proc.stdout.readline()
        with urllib.request.urlopen(url + "/_sandbox/health", timeout=10) as resp:
            assert json.loads(resp.read())["ok"] is True
        assert (tmp_path / "exports" / "mismatches.json").exists()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        out, err = proc.stdout.read(), proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "stopped" in out
