"""Commands find a running `make run` desk through <data dir>/run.json, unless settings say
otherwise; a file left behind by a desk that is gone is ignored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.config import RUN_FILE_NAME, SANDBOX_API_KEY, load_settings

NO_SECRETS = Path("/nonexistent/secrets.toml")


def _write(data_dir: Path, pid: int, **info: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / RUN_FILE_NAME).write_text(json.dumps({"pid": pid, **info}), encoding="utf-8")


def _gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_running_desk_supplies_its_sandbox_and_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    _write(tmp_path, os.getpid(), sandbox_url="http://127.0.0.1:12999", database_url=db)
    settings = load_settings({"LEDGERDESK_DATA_DIR": str(tmp_path)}, NO_SECRETS)
    assert settings.stripe_api_key is not None
    assert settings.stripe_api_key.reveal() == SANDBOX_API_KEY
    assert settings.stripe_api_base == "http://127.0.0.1:12999"
    assert settings.sandbox and settings.database_url == db


def test_settings_of_ones_own_win_over_the_running_desk(tmp_path: Path) -> None:
    _write(tmp_path, os.getpid(), sandbox_url="http://127.0.0.1:12999", database_url="sqlite:///x")
    env = {
        "LEDGERDESK_DATA_DIR": str(tmp_path),
        "STRIPE_API_KEY": "sk_test_mine",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'mine.db'}",
    }
    settings = load_settings(env, NO_SECRETS)
    assert (
        settings.stripe_api_key is not None and settings.stripe_api_key.reveal() == "sk_test_mine"
    )
    assert settings.stripe_api_base == "https://api.stripe.com" and not settings.sandbox
    assert settings.database_url.endswith("mine.db")


def test_a_file_left_by_a_desk_that_is_gone_is_ignored(tmp_path: Path) -> None:
    _write(tmp_path, _gone_pid(), sandbox_url="http://127.0.0.1:12999")
    settings = load_settings({"LEDGERDESK_DATA_DIR": str(tmp_path)}, NO_SECRETS)
    assert settings.stripe_api_key is None and not settings.sandbox
    (tmp_path / RUN_FILE_NAME).write_text("{not json", encoding="utf-8")
    assert load_settings({"LEDGERDESK_DATA_DIR": str(tmp_path)}, NO_SECRETS).stripe_api_key is None
