"""AUDIT_KEY_FILE: created once with mode 0600, read through Settings, never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.config import ensure_audit_key, load_settings
from core.errors import ConfigError


def settings(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    base = {"LEDGERDESK_DATA_DIR": str(tmp_path), **env}
    return load_settings(base, secrets_file=Path("/nonexistent"))


def test_the_key_is_created_once_private_and_hidden(tmp_path: Path) -> None:
    first = ensure_audit_key(settings(tmp_path))
    key_file = tmp_path / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.audit_key.reveal() if first.audit_key else ""
    assert len(bytes.fromhex(key)) == 32
    again = ensure_audit_key(settings(tmp_path))
    assert again.audit_key == first.audit_key
    assert key not in repr(again) and again.public_summary()["audit_key"] == "set"


def test_a_lost_key_is_not_silently_replaced(tmp_path: Path) -> None:
    (tmp_path / "audit-anchors.jsonl").write_text('{"count": 1}\n')
    with pytest.raises(ConfigError, match="AUDIT_KEY_FILE .* is missing"):
        ensure_audit_key(settings(tmp_path))
    (tmp_path / "elsewhere.key").write_text("not a key\n")
    with pytest.raises(ConfigError, match="not a readable audit key"):
        settings(tmp_path, AUDIT_KEY_FILE=str(tmp_path / "elsewhere.key"))
