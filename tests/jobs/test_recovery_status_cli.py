"""`python -m jobs status --json` reports open recovery cases by bucket; `predunning` runs."""

from __future__ import annotations

import json
from pathlib import Path

from core.db import make_engine, make_sessionmaker, migrate
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from tests.support.cli import run_jobs
from tests.support.recovery import event, failed_charge, invoice

T0 = 1_780_000_000


def test_status_json_has_open_cases_by_bucket(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ld.db'}")
    migrate(engine)
    Session = make_sessionmaker(engine)
    load_handler_modules()
    with Session.begin() as s:
        ingest_events(
            s,
            [
                event(
                    "charge.failed",
                    failed_charge("ch_1", pi="pi_1", customer="cus_1", decline="expired_card"),
                    T0,
                ),
                event(
                    "invoice.payment_failed",
                    invoice("in_1", pi="pi_1", customer="cus_1"),
                    T0 + 1,
                ),
                event(
                    "charge.failed",
                    failed_charge("ch_2", pi="pi_2", customer="cus_2", decline="lost_card"),
                    T0,
                ),
                event(
                    "invoice.payment_failed",
                    invoice("in_2", pi="pi_2", customer="cus_2"),
                    T0 + 1,
                ),
                event(
                    "invoice.payment_failed",
                    invoice("in_3", pi="pi_3", customer="cus_3"),
                    T0 + 2,
                ),
                event(
                    "invoice.paid",
                    invoice("in_3", pi="pi_3", customer="cus_3", status="paid"),
                    T0 + 9,
                ),
            ],
        )
    process_batch(Session)
    engine.dispose()
    result = run_jobs(tmp_path, "status", "--json")
    assert "Traceback" not in result.stderr, result.stderr
    recovery = json.loads(result.stdout)["recovery"]
    assert recovery["open_by_bucket"] == {"card_data": 1, "fraud_related": 1}
    assert recovery["open_cases"] == 2
    # the stolen card escalates (REC-FRAUD), the expired card does not: half of the open cases
    assert recovery["escalated"] == 1
    assert recovery["escalated_share_pct"] == 50.0
    assert recovery["escalated_by_rule"] == {"REC-FRAUD": 1}
    pre = run_jobs(tmp_path, "predunning", "--json")
    assert pre.returncode == 0, pre.stderr
    assert json.loads(pre.stdout) == {"new_drafts": 0}
