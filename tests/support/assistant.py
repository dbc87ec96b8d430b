"""A desk for the assistant tests: CRM accounts, tickets, failed payments, disputes and
subscriptions planted the way they arrive (CSV importers, Stripe events through the handlers,
dispute objects through the dispute handler), at a fixed `NOW` (Thursday 3 December 2026).

    failed twice this month, enterprise: in_ent1 only (in_smb1 is SMB, in_ent2 failed once,
        in_ent3 failed in November)
    due this week over $500 with an open ticket: the $750 dispute of cus_ent1 only
    MRR at risk since Monday (30 Nov): now $3,650 (ent1 1,000 + ent2 2,500 + smb1 50 + smb2 100),
        then $900 (smb2 100 + ent3 800, paid on 1 Dec): up $2,750

`texts` replaces the planted outside text (customer names, CRM names, owners and segments,
ticket subjects, a Stripe customer's name and metadata) for the injection corpus.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.disputes.handlers import apply_dispute
from core.disputes.settings import DisputeConfig
from core.imports import IMPORTERS
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from tests.support import disputes as f
from tests.support.recovery import event, invoice

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
HOUR, DAY = 3600, 86_400
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "injection_corpus.toml"
MRR = {"sub_ent1": 100_000, "sub_ent2": 250_000, "sub_ent3": 80_000, "sub_smb1": 5_000,
       "sub_smb2": 10_000}  # fmt: skip


def corpus() -> list[dict[str, str]]:
    """The injection corpus (tests/fixtures/injection_corpus.toml)."""
    return tomllib.loads(CORPUS.read_text(encoding="utf-8"))["text"]


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


def _subscription(sid: str, customer: str, amount: int) -> dict[str, Any]:
    return {
        "id": sid,
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "currency": "usd",
        "cancel_at_period_end": False,
        "items": {
            "data": [
                {
                    "price": {"unit_amount": amount, "recurring": {"interval": "month"}},
                    "quantity": 1,
                }
            ]
        },  # fmt: skip
        "created": T - 300 * DAY,
    }


def seed_desk(
    Session: sessionmaker[Session],  # noqa: N803
    texts: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Plant the desk described in the module text; returns the dispute ids by customer."""
    t = {
        "customer_name": "Ana Example",
        "crm_name": "Acme Enterprise",
        "crm_owner": "dana@desk.example",
        "crm_segment": "Growth",
        "ticket_subject": "Invoice question",
        "stripe_customer_name": "Acme Enterprise Ltd",
        "metadata": "vip",
        **(texts or {}),
    }
    load_handler_modules()
    with Session.begin() as s:
        IMPORTERS["crm"].run(
            s,
            _csv(
                [
                    ["Stripe Customer ID", "Account Name", "Owner", "Segment", "MRR"],
                    ["cus_ent1", t["crm_name"], t["crm_owner"], "Enterprise", "1000"],
                    ["cus_ent2", "Globex", "lee@desk.example", "Enterprise", "2500"],
                    ["cus_ent3", "Initech", "lee@desk.example", "enterprise", "800"],
                    ["cus_smb1", "Tiny Shop", "kim@desk.example", "SMB", "50"],
                    ["cus_smb2", "Corner Cafe", "kim@desk.example", t["crm_segment"], "100"],
                ]
            ),
        )
        IMPORTERS["tickets"].run(
            s,
            _csv(
                [
                    ["Ticket ID", "Subject", "Status", "Stripe Customer ID", "Created"],
                    ["T-100", t["ticket_subject"], "open", "cus_ent1", "2026-12-01"],
                    ["T-101", "Thanks, solved", "closed", "cus_ent2", "2026-11-20"],
                    ["T-102", t["ticket_subject"], "open", "cus_smb1", "2026-12-01"],
                    ["T-103", "Where is my refund?", "pending", "cus_ent3", "2026-12-02"],
                    ["T-104", "Receipt in yen", "open", "cus_jp", "2026-12-02"],
                ]
            ),
        )
        for sid, amount in MRR.items():
            f.put(s, _subscription(sid, "cus_" + sid[4:], amount))
    dec1, dec2, nov20, nov25, nov28 = (
        T - 2 * DAY, T - DAY, T - 13 * DAY, T - 8 * DAY, T - 5 * DAY,
    )  # fmt: skip
    failures = [
        ("in_ent1", "cus_ent1", 1, dec1),
        ("in_ent1", "cus_ent1", 2, dec2),
        ("in_ent2", "cus_ent2", 1, dec2),
        ("in_ent3", "cus_ent3", 1, nov20),
        ("in_ent3", "cus_ent3", 2, nov25),
        ("in_smb1", "cus_smb1", 1, dec1),
        ("in_smb1", "cus_smb1", 2, dec2),
        ("in_smb2", "cus_smb2", 1, nov28),
    ]
    events = [
        event(
            "invoice.payment_failed",
            invoice(
                inv,
                customer=cus,
                attempt=n,
                sub="sub_" + cus[4:],
                pi="pi_" + inv[3:],
                amount=MRR["sub_" + cus[4:]],
                name=t["customer_name"] if cus == "cus_ent1" else cus.upper(),
                email=f"{cus}@example.com",
            ),  # fmt: skip
            at,
        )
        for inv, cus, n, at in failures
    ]
    paid = invoice("in_ent3", customer="cus_ent3", status="paid", sub="sub_ent3", pi="pi_ent3",
                   amount=80_000)  # fmt: skip
    events.append(event("invoice.paid", paid, dec1 + HOUR))
    with Session.begin() as s:
        ingest_events(s, events)
    while process_batch(Session).claimed:
        pass
    cfg = DisputeConfig(alert_threshold=10**12, default_owner=None)
    disputes: dict[str, str] = {}
    with Session.begin() as s:
        for cus_id, name, amount, currency, due in (
            ("cus_ent1", t["stripe_customer_name"], 75_000, "usd", T + 3 * DAY),
            ("cus_ent2", "Globex Inc", 75_000, "usd", T + 3 * DAY),
            ("cus_smb1", "Tiny Shop", 30_000, "usd", T + 2 * DAY),
            ("cus_ent3", "Initech", 90_000, "usd", T + 20 * DAY),
            ("cus_jp", "Kaisha KK", 80_000, "jpy", T + 2 * DAY),
        ):
            cus = f.put(s, {**f.customer(s, name=name), "id": cus_id,
                            "metadata": {"note": t["metadata"]}})  # fmt: skip
            ch = f.charge(s, cus, amount, T - 10 * DAY, currency=currency)
            dp = f.dispute(ch, due_by=due, created=T - 2 * DAY)
            dp["currency"] = currency
            case, _ = apply_dispute(s, dp, event_created=T - DAY, cfg=cfg, now=T)
            disputes[cus_id] = case.dispute_id
        # a charge that can be refunded (the proposal tests)
        cus = f.put(s, {**f.customer(s, name="Refund Co"), "id": "cus_refund"})
        refundable = f.charge(s, cus, 12_000, T - 3 * DAY)
    return {"disputes": disputes, "refundable_charge": refundable["id"]}


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    """A scripted model reply asking for one tool call."""
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def last_tool_result(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON of the last tool message the model was sent."""
    tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
    return json.loads(tool_messages[-1]["content"])


def instruction_text(body: dict[str, Any]) -> str:
    """Everything a model could read as instructions: system and user text, any tool message
    that is not JSON, and the keys (never the string values) of the JSON ones."""
    parts: list[str] = []

    def keys(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                parts.append(str(k))
                keys(v)
        elif isinstance(value, list):
            for v in value:
                keys(v)

    for message in body["messages"]:
        content = message.get("content")
        if not isinstance(content, str):
            continue
        if message["role"] != "tool":
            parts.append(content)
            continue
        try:
            keys(json.loads(content))
        except json.JSONDecodeError:
            parts.append(content)
    return "\n".join(parts)


def string_values(value: Any) -> list[str]:
    """Every string value in a JSON document."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in string_values(v)]
    if isinstance(value, list):
        return [s for v in value for s in string_values(v)]
    return [value] if isinstance(value, str) else []
