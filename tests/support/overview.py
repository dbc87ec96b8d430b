"""A small desk with something on every Overview tile, made through the product's own services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.disputes.handlers import apply_dispute
from core.disputes.settings import DisputeConfig
from core.drift.checks import take_snapshot
from core.models.sync import SyncState
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from tests.support import disputes as f
from tests.support.governance import make_refund_request, make_team
from tests.support.recovery import event, invoice

HOUR = 3600
DAY = 86400


def seed_desk(
    Session: sessionmaker[Session],  # noqa: N803
    settings: Settings,
    now: int,
    *,
    with_drift: bool = True,
) -> dict[str, Any]:
    """Users of every role, recovery cases (via events and handlers), disputes, an approval."""
    load_handler_modules()
    with Session.begin() as s:
        team = make_team(s)
    today = now - 60  # a minute ago: today in any time zone unless it is 00:00
    events = [
        # two invoices failing today (usd 49.00 and 120.00), one from last month still open
        event(
            "invoice.payment_failed", invoice("in_today1", amount=4900, customer="cus_A1"), today
        ),
        event(
            "invoice.payment_failed",
            invoice("in_today2", amount=12000, customer="cus_B2", pi="pi_2"),
            today,
        ),  # fmt: skip
        event(
            "invoice.payment_failed",
            invoice("in_old", amount=3000, customer="cus_C3", pi="pi_3"),
            now - 40 * DAY,
        ),  # fmt: skip
        # failed two days ago, paid an hour ago: recovered (this month unless it is the 1st)
        event(
            "invoice.payment_failed",
            invoice("in_rec", amount=2500, customer="cus_D4", pi="pi_4"),
            now - 2 * DAY,
        ),  # fmt: skip
        event(
            "invoice.paid",
            invoice("in_rec", amount=2500, customer="cus_D4", pi="pi_4", status="paid"),
            now - HOUR,
        ),  # fmt: skip
    ]
    with Session.begin() as s:
        ingest_events(s, events, source="webhook")
    while process_batch(Session).claimed:
        pass
    cfg = DisputeConfig(alert_threshold=10**12, default_owner="sam@example.com")
    with Session.begin() as s:
        cus = f.customer(s, name="Grace Hopper")
        soon = f.charge(s, cus, 5_000, now - 20 * DAY)
        later = f.charge(s, cus, 30_000, now - 10 * DAY)
        late = f.charge(s, cus, 7_000, now - 30 * DAY)
        due_soon, _ = apply_dispute(
            s, f.dispute(soon, due_by=now + 20 * HOUR, created=now - 3 * DAY),
            event_created=now, cfg=cfg,
        )  # fmt: skip
        apply_dispute(s, f.dispute(later, due_by=now + 10 * DAY, created=now - DAY),
                      event_created=now, cfg=cfg)  # fmt: skip
        apply_dispute(s, f.dispute(late, due_by=now - DAY, created=now - 25 * DAY),
                      event_created=now, cfg=cfg)  # fmt: skip
        make_refund_request(s, team["operator"], charge_id="ch_overview", amount=2500)
        s.add(
            SyncState(
                account="",
                stream="events",
                status="idle",
                cursor="evt_seeded_head",  # the first load is complete: pages show figures
                last_created=now - 30,
                last_attempt_at=datetime.fromtimestamp(now - 5, UTC),
                last_success_at=datetime.fromtimestamp(now - 5, UTC),
            )
        )
    drift_alarms = 0
    if with_drift:
        with Session.begin() as s:
            checks = take_snapshot(s, settings, datetime.fromtimestamp(now, settings.tz).date())
            drift_alarms = sum(1 for c in checks if c.count)
    return {"team": team, "due_soon": due_soon.dispute_id, "drift_alarms": drift_alarms}
