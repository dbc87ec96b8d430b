"""A desk whose outside data is hostile: formula payloads for exports, Markdown payloads for pages.

Everything is planted the way it arrives in production: Stripe snapshots and events (customer
names and e-mails, balance-transaction descriptions, tax jurisdictions), the CRM and help-desk
CSV importers (account names, owners, ticket subjects) and the dispute / recovery handlers.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.disputes.handlers import apply_dispute
from core.disputes.settings import DisputeConfig
from core.drift.checks import DriftItem, open_task, take_snapshot
from core.imports import IMPORTERS
from core.models.sync import SyncState
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from tests.support import disputes as f
from tests.support.books import bt, invoice_with_tax
from tests.support.governance import make_refund_request, make_team
from tests.support.recovery import event, failed_charge, invoice

# What a spreadsheet would run (OWASP CSV injection), each planted somewhere an export reads.
FORMULAS = (
    "@SUM(1+1)*cmd|' /c calc'!A0",
    '=HYPERLINK("https://evil.example","x")',
    "\t=1+1",
    "\r=1+1",
    " =1+1",
)
# What Markdown would turn into an image, a link and a badge on an approver's screen.
PIXEL = "![px](https://evil.example/pixel.png)"
PHISH = "[Click here for your refund](https://evil.example/refund)"
BADGE = ":green-badge[Refund approved]"
MARKDOWN = (PIXEL, PHISH, BADGE)
# A CRM owner with an address in it becomes a dispute's owner (lower-cased).
PHISH_OWNER = PHISH + " ops@evil.example"
HOUR, DAY = 3600, 86_400


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


def seed_hostile(
    Session: sessionmaker[Session],  # noqa: N803
    settings: Settings,
    now: int,
) -> dict[str, Any]:
    """Users of every role plus hostile recovery, dispute, CRM, ticket, books and drift data."""
    load_handler_modules()
    with Session.begin() as s:
        team = make_team(s)
        # The CRM: the customer with a failed payment (Markdown owner) and one per formula as
        # account name without an owner (drift lists "<name> has no owner").
        IMPORTERS["crm"].run(
            s,
            _csv(
                [
                    ["Stripe Customer ID", "Account Name", "Owner", "Segment", "MRR"],
                    ["cus_pixel", PIXEL, PHISH, BADGE, "90"],
                    ["cus_formula", "Formula Co", FORMULAS[0], "SMB", "10"],
                    ["cus_phish", "Phish Co", PHISH_OWNER, "SMB", "10"],
                    *[
                        [f"cus_noowner{i}", text, "", "SMB", "10"]
                        for i, text in enumerate(FORMULAS)
                    ],
                ]
            ),
        )
        IMPORTERS["tickets"].run(
            s,
            _csv(
                [
                    ["Ticket ID", "Subject", "Status", "Stripe Customer ID", "Created"],
                    ["T-1", BADGE, "open", "cus_pixel", "2026-01-05"],
                    ["T-2", PHISH, "open", "cus_pixel", "2026-01-06"],
                ]
            ),
        )
    # A failed payment of the customer whose Stripe name is a tracking pixel.
    with Session.begin() as s:
        ingest_events(
            s,
            [
                event(
                    "charge.failed",
                    failed_charge("ch_px", pi="pi_px", customer="cus_pixel"),
                    now - 120,
                ),  # fmt: skip
                event(
                    "invoice.payment_failed",
                    invoice(
                        "in_px",
                        pi="pi_px",
                        customer="cus_pixel",
                        amount=4900,
                        name=PIXEL,
                        email="pixel@example.com",
                    ),  # fmt: skip
                    now - 60,
                ),
            ],
        )
    while process_batch(Session).claimed:
        pass
    cfg = DisputeConfig(alert_threshold=10**12, default_owner=None)
    with Session.begin() as s:
        disputes = []
        for name, customer_id, due in (
            (BADGE, "cus_phish", now + 10 * HOUR),  # the most urgent: opened first on the page
            (PIXEL, "cus_formula", now + 30 * HOUR),
            (PHISH, "cus_pixel", now + 40 * HOUR),
        ):
            cus = f.put(s, {**f.customer(s, name=name), "id": customer_id})
            ch = f.charge(s, cus, 12_345, now - 5 * DAY)
            case, _ = apply_dispute(
                s, f.dispute(ch, due_by=due, created=now - 2 * DAY), event_created=now, cfg=cfg
            )
            disputes.append(case.dispute_id)
        # Stripe customers not in the CRM, listed by e-mail: the raw text (tabs, CRs) reaches drift.
        for i, text in enumerate(FORMULAS):
            f.put(s, {"id": f"cus_mail{i}", "object": "customer", "email": text, "name": text,
                      "created": now - DAY})  # fmt: skip
        day = now - 3 * DAY
        for i, text in enumerate(FORMULAS):
            f.put(s, {**bt("charge", 1000 + i, 59, created=day), "description": text})
        f.put(s, invoice_with_tax("ch_tax", 190, jurisdiction=FORMULAS[1], created=day))
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
    with Session.begin() as s:
        take_snapshot(s, settings, datetime.fromtimestamp(now, settings.tz).date())
        # What an approver reads: a typed reason, evidence and parameters, a drift task.
        make_refund_request(
            s, team["operator"], "ch_px", 4900, reason=f"Goodwill for {PIXEL}",
            evidence={"amount": 4900, "currency": "usd", "customer": PHISH, "segment": BADGE},
            params={"note": BADGE},
        )  # fmt: skip
        open_task(
            s, team["operator"], DriftItem("crm_no_owner", "cus_pixel", f"{PHISH} has no owner")
        )
    return {"team": team, "disputes": disputes}
