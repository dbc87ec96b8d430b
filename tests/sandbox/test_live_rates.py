"""Live mode keeps a real account's proportions: a few % of renewals declined, disputes well
under 1 % of charges, one automatic payout a day; and the demo history shows every kind of
failure, annual contracts and complaints in the help desk."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from sandbox.config import SandboxConfig
from sandbox.generator import SHOWCASE_CODES, SHOWCASE_DAYS
from sandbox.live import tick
from sandbox.state import SandboxState

DAY = 86400
FIXED_NOW = 1_790_000_000.0  # 2026-09-21 13:33 UTC


def _created_after(state: SandboxState, kind: str, t: int) -> list[dict]:
    return [o for o in state.platform.iter_type(kind) if o["created"] > t]


def test_an_hour_of_live_activity_has_real_proportions() -> None:
    state = SandboxState(SandboxConfig(seed=11, customers=120, days=90, now=lambda: FIXED_NOW))
    start = state.platform.now_int()
    for _ in range(480):  # two hours of the default 15 s tick
        state.clock.advance(15)
        tick(state.platform)
    renewals = _created_after(state, "invoice", start)
    charges = _created_after(state, "charge", start)
    declined_first = [i for i in renewals if i["attempt_count"] > 1 or i["status"] != "paid"]
    disputes = _created_after(state, "dispute", start)
    payouts = [p for p in _created_after(state, "payout", start) if p["automatic"]]
    assert len(renewals) == 480  # one renewal per tick, not several
    assert 0.01 <= len(declined_first) / len(renewals) <= 0.08
    assert len(disputes) <= 0.01 * len(charges)
    assert len(payouts) == 0  # the day's payout was made at 02:00; the next one is tomorrow


def test_one_automatic_payout_a_day() -> None:
    state = SandboxState(SandboxConfig(seed=12, customers=40, days=60, now=lambda: FIXED_NOW))
    a = state.platform
    per_day: Counter[int] = Counter()
    for _ in range(3):
        state.clock.advance(DAY)
        for _ in range(200):
            state.clock.advance(30)
            tick(a)
    for p in a.iter_type("payout"):
        if p["automatic"]:
            per_day[p["created"] // DAY] += 1
    assert per_day and max(per_day.values()) == 1
    assert sum(1 for d in per_day if d > int(FIXED_NOW) // DAY) == 3


def test_demo_history_shows_every_kind_of_failure_annual_plans_and_complaints(
    tmp_path: Path,
) -> None:
    state = SandboxState(
        SandboxConfig(seed=42, customers=300, now=lambda: FIXED_NOW, exports_dir=str(tmp_path))
    )
    a = state.platform
    now = int(FIXED_NOW)
    recent = {
        c["outcome"]["reason"]
        for c in a.iter_type("charge")
        if c["status"] == "failed" and c["created"] >= now - SHOWCASE_DAYS * DAY
    }
    assert set(SHOWCASE_CODES) <= recent
    intervals = Counter(
        s["items"]["data"][0]["price"]["recurring"]["interval"] for s in a.iter_type("subscription")
    )
    assert intervals["month"] > intervals["year"] > 0
    year = [i for i in a.iter_type("invoice") if i["created"] >= now - 365 * DAY]
    failed = [i for i in year if i["attempt_count"] > 1 or i["status"] != "paid"]
    assert 0.02 <= len(failed) / len(year) <= 0.06
    awaiting = [d for d in a.iter_type("dispute") if d["status"].endswith("needs_response")]
    assert {d["status"] for d in awaiting} == {
        "needs_response",
        "warning_needs_response",
        "appeal_needs_response",
    }
    tickets = list(csv.DictReader(open(tmp_path / "helpdesk_tickets.csv", encoding="utf-8")))
    assert any(
        "complaint" in t["tags"] and t["status"] in ("open", "pending") for t in tickets
    ) and any(t["priority"] == "high" and t["status"] in ("open", "pending") for t in tickets)
