"""Every setting is read once, by core/config.py, and passed in: a value written only in
`secrets.toml` reaches the event handlers, the jobs and the pages alike."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.config import DEFAULT_POLICY_FILE, load_settings
from core.disputes.cases import config
from core.models.governance import ActionRequest, OutboxMessage
from core.sync.ingest import ingest_events
from jobs.process import drain
from jobs.runtime import open_runtime
from tests.support import disputes as f

ROOT = Path(__file__).resolve().parents[2]
NOW = f.ts(2026, 3, 20, 12)


def _secrets(tmp_path: Path, db_url: str) -> Path:
    """A policy that needs two approvers for refunds above $10, and a team in Tokyo."""
    policy = tmp_path / "policy.toml"
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    refund = "[actions.refund]\ntwo_approvers_above = 50000\n"
    assert refund in text
    policy.write_text(text.replace(refund, "[actions.refund]\ntwo_approvers_above = 1000\n"))
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f'POLICY_FILE = "{policy}"\nTEAM_TIMEZONE = "Asia/Tokyo"\n'
        f'DATABASE_URL = "{db_url}"\nLEDGERDESK_DATA_DIR = "{tmp_path}"\n',
        encoding="utf-8",
    )
    return secrets


def _event(event_id: str, etype: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": etype,
        "created": NOW,
        "api_version": "2026-10-28.endive",
        "livemode": False,
        "data": {"object": obj},
    }


def test_policy_and_time_zone_set_only_in_secrets_reach_the_handlers(
    tmp_path: Path, db_url: str
) -> None:
    settings = load_settings({}, secrets_file=_secrets(tmp_path, db_url))
    assert settings.policy_file == tmp_path / "policy.toml"
    runtime = open_runtime(settings)
    with runtime.Session.begin() as session:
        cus = f.customer(session)
        small = f.charge(session, cus, 5_000, NOW - 2 * f.DAY)
        big = f.charge(session, cus, 90_000, NOW - 3 * f.DAY)
        efw = {
            "id": "issfr_s1",
            "object": "radar.early_fraud_warning",
            "actionable": True,
            "charge": small["id"],
            "fraud_type": "made_with_stolen_card",
        }
        dispute = f.dispute(big, due_by=NOW + 3 * f.DAY)
        ingest_events(
            session,
            [
                _event("evt_s1", "radar.early_fraud_warning.created", efw),
                _event("evt_s2", "charge.dispute.created", dispute),
            ],
        )
    report = drain(runtime)
    assert report.processed == 2 and report.dead == 0
    with runtime.Session() as session:
        refund = session.scalar(select(ActionRequest).where(ActionRequest.action_type == "refund"))
        assert refund is not None
        # $50 is above the configured $10: two approvers (the shipped policy asks for one)
        assert refund.required_approvals == 2
        assert refund.policy_version == config(settings.policy_file).policy_version
        alerts = session.scalars(
            select(OutboxMessage.body).where(OutboxMessage.dedupe_key.like("dispute-%"))
        ).all()
    assert alerts and all("JST" in body for body in alerts), alerts


def _reads_environment(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "os" and node.attr in ("environ", "getenv"):
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("folder", ["core", "dashboard", "pages"])
def test_only_the_config_module_reads_the_environment(folder: str) -> None:
    readers = {
        p.relative_to(ROOT).as_posix(): found
        for p in sorted((ROOT / folder).rglob("*.py"))
        if (found := _reads_environment(p)) and p != ROOT / "core" / "config.py"
    }
    assert readers == {}
