"""The team's other systems as CSV files, with a known number of deliberate mismatches.

CRM, help desk, entitlements and the bank statement are written for the platform account;
`mismatches.json` (and `/_sandbox/truth`) report exactly which rows disagree with Stripe.
"""

from __future__ import annotations

import csv
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.generator import Built
from sandbox.store import Account

MRR_TOLERANCE_PCT = 1.0
LIVE_STATUSES = ("active", "trialing", "past_due")
OWNERS = ["alex@demo.example", "blake@demo.example", "casey@demo.example", "drew@demo.example"]
SUBJECTS = [
    "Card declined on renewal",
    "Question about invoice",
    "Refund request",
    "Cannot log in",
    "Upgrade seats",
    "Chargeback notice from my bank",
    "Cancel my plan",
    "VAT number on invoice",
]

# Subjects a help desk tags as a complaint (about half the time, as agents do).
COMPLAINT_SUBJECTS = ("Refund request", "Chargeback notice from my bank", "Cancel my plan")


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _pick(rng: random.Random, items: list[Any], share: float, minimum: int) -> list[Any]:
    k = min(len(items), max(minimum, round(len(items) * share)))
    return rng.sample(items, k)


def build(
    a: Account, built: Built, seed: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Rows per CSV file and the truth report (mismatch ids by kind)."""
    rng = random.Random(f"exports-{seed}")
    details: dict[str, list[str]] = {}
    customers = sorted(built.customers, key=lambda c: c["id"])
    for info in customers:
        info["status"] = a.objects[info["subscription"]]["status"]
        info["true_mrr"] = info["mrr"] if info["status"] in LIVE_STATUSES else 0
    ids = [c["id"] for c in customers]
    position = {cid: n for n, cid in enumerate(ids)}
    missing = set(_pick(rng, ids, 0.03, 2))
    present = [i for i in ids if i not in missing]
    paying = [c["id"] for c in customers if c["true_mrr"] and c["id"] not in missing]
    mrr_off = set(_pick(rng, paying, 0.04, 2))
    no_owner = set(_pick(rng, [i for i in present if i not in mrr_off], 0.03, 2))
    details["crm_missing_customer"] = sorted(missing)
    details["crm_mrr_mismatch"] = sorted(mrr_off)
    details["crm_no_owner"] = sorted(no_owner)
    crm, ents = [], []
    for c in customers:
        if c["id"] in missing:
            continue
        mrr = c["true_mrr"]
        if c["id"] in mrr_off:
            mrr = round(mrr * rng.choice([0.5, 0.8, 1.25, 2.0]))
        sub = a.objects[c["subscription"]]
        renewal = sub["items"]["data"][0]["current_period_end"]
        crm.append(
            {
                "stripe_customer_id": c["id"],
                "email": c["email"],
                "account_name": c["name"],
                "owner": "" if c["id"] in no_owner else OWNERS[position[c["id"]] % len(OWNERS)],
                "segment": c["segment"],
                "arr": f"{mrr * 12 / 100:.2f}",
                "mrr": f"{mrr / 100:.2f}",
                "renewal_date": _date(renewal),
                "flags": "strategic" if c["segment"] == "enterprise" else "",
            }
        )
    dead = [c for c in customers if c["status"] in ("canceled", "unpaid")]
    alive = [c for c in customers if c["status"] in ("active", "trialing")]
    wrong_active = {c["id"] for c in _pick(rng, dead, 0.25, 2)}
    wrong_revoked = {c["id"] for c in _pick(rng, alive, 0.02, 2)}
    details["entitlement_active_but_canceled"] = sorted(wrong_active)
    details["entitlement_revoked_but_paid"] = sorted(wrong_revoked)
    for c in customers:
        sub = a.objects[c["subscription"]]
        access = "active" if c["status"] in LIVE_STATUSES else "revoked"
        if c["id"] in wrong_active:
            access = "active"
        if c["id"] in wrong_revoked:
            access = "revoked"
        ents.append(
            {
                "stripe_customer_id": c["id"],
                "subscription_id": sub["id"],
                "plan": sub["items"]["data"][0]["price"]["nickname"],
                "seats": sub["items"]["data"][0]["quantity"],
                "access": access,
                "updated_at": _date(sub["canceled_at"] or sub["created"]),
            }
        )
    tickets, unknown = _tickets(a, rng, customers)
    details["helpdesk_unknown_customer"] = unknown
    bank = _bank(a, rng, details)
    counts = {k: len(v) for k, v in details.items()}
    truth = {
        "account": a.id,
        "seed": seed,
        "mrr_tolerance_pct": MRR_TOLERANCE_PCT,
        "counts": counts,
        "total_mismatches": sum(counts.values()),
        "details": details,
        "rows": {
            "crm_accounts.csv": len(crm),
            "helpdesk_tickets.csv": len(tickets),
            "entitlements.csv": len(ents),
            "bank_statement.csv": len(bank),
        },
    }
    return {
        "crm_accounts.csv": crm,
        "helpdesk_tickets.csv": tickets,
        "entitlements.csv": ents,
        "bank_statement.csv": bank,
    }, truth


def _tickets(
    a: Account, rng: random.Random, customers: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    rows = []
    now = a.now_int()
    for n, c in enumerate(_pick(rng, customers, 0.3, 5)):
        created = c["created"] + rng.randint(1, 60) * 86400
        if rng.random() < 0.15:  # some conversations are going on right now
            created = max(c["created"], now - rng.randint(0, 20) * 86400)
        subject = rng.choice(SUBJECTS)
        priority = rng.choice(["low", "normal", "normal", "high"])
        complaint = subject in COMPLAINT_SUBJECTS and rng.random() < 0.5
        rows.append(
            {
                "ticket_id": f"T-{10000 + n}",
                "requester_email": c["email"],
                "stripe_customer_id": c["id"],
                "subject": subject,
                "status": rng.choice(["open", "pending", "solved", "solved"]),
                "priority": priority,
                "created_at": _date(min(created, now)),
                "tags": "billing, complaint" if complaint else "billing",
            }
        )
    unknown = []
    for k in range(max(2, len(rows) // 25)):
        tid = f"T-{20000 + k}"
        unknown.append(tid)
        rows.append(
            {
                "ticket_id": tid,
                "requester_email": f"someone{k}@unknown.example",
                "stripe_customer_id": "",
                "subject": rng.choice(SUBJECTS),
                "status": "open",
                "priority": "normal",
                "created_at": _date(a.now_int() - k * 86400),
                "tags": "unmatched",
            }
        )
    return rows, unknown


def _bank(a: Account, rng: random.Random, details: dict[str, list[str]]) -> list[dict[str, Any]]:
    arrived = [p for p in a.iter_type("payout") if p["status"] == "paid"]
    arrived.sort(key=lambda p: p["id"])
    missing = set(p["id"] for p in _pick(rng, arrived, 0.03, 1))
    rest = [p for p in arrived if p["id"] not in missing]
    late = set(p["id"] for p in _pick(rng, rest, 0.05, 1))
    split = set(p["id"] for p in _pick(rng, [p for p in rest if p["id"] not in late], 0.03, 1))
    details["bank_payout_missing"] = sorted(missing)
    details["bank_deposit_late"] = sorted(late)
    details["bank_split_deposit"] = sorted(split)
    rows = []
    for p in sorted(arrived, key=lambda p: (p["arrival_date"], p["id"])):
        if p["id"] in missing:
            continue
        trace = p["trace_id"]["value"] or ""
        day = p["arrival_date"] + (86400 if p["id"] in late else 0)
        parts = [p["amount"]]
        if p["id"] in split:
            first = p["amount"] // 3
            parts = [first, p["amount"] - first]
        for part in parts:
            rows.append(
                {
                    "date": _date(day),
                    "description": f"STRIPE PAYOUT {trace}",
                    "amount": f"{part / 100:.2f}",
                    "currency": "USD",
                    "reference": trace,
                    "type": "credit",
                }
            )
    return rows


def write(a: Account, built: Built, seed: int, out_dir: str | None) -> dict[str, Any]:
    """Write the CSVs and mismatches.json (when `out_dir` is set); return the truth report."""
    files, truth = build(a, built, seed)
    truth["generated_at"] = int(time.time())
    if out_dir:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        for name, rows in files.items():
            with open(path / name, "w", newline="", encoding="utf-8") as fh:
                if rows:
                    writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
        truth["exports_dir"] = str(path.resolve())
        (path / "mismatches.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth
