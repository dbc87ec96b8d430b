"""Every command refuses to run under a policy that would switch the human off, and says which
line of which file to fix, in one line (no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.config import DEFAULT_POLICY_FILE

ROOT = Path(__file__).resolve().parents[2]


def test_commands_stop_on_a_policy_that_disables_approval(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    policy.write_text(text.replace("[actions.refund]\n", "[actions.refund]\napproval = false\n"))
    line = 1 + text.splitlines().index("[actions.refund]") + 1
    env = {
        **os.environ,
        "LEDGERDESK_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}",
        "POLICY_FILE": str(policy),
    }
    for command in (["process", "--once"], ["execute", "--once"], ["status"]):
        done = subprocess.run(
            [sys.executable, "-m", "jobs", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode != 0, command
        assert "Traceback" not in done.stderr
        said = (done.stdout + done.stderr).strip()
        assert f"policy.toml, line {line}: [actions.refund] approval" in said, said
