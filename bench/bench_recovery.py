"""Failed-payment recovery: failure events through classification, policy and template drafting.

Pure pipeline per case (what a handler does besides storage): read the decline from the charge
and payment intent, classify, compute churn signals, apply the `[recovery]` policy rules, render
the e-mail (and the CSM task when escalated) and hash the draft inputs. Also reports the full
stored path (ingest + process handlers on SQLite) for a smaller batch, for reference.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from core.money import format_money
from core.recovery.classification import ChurnContext, churn_signals, classify, facts_from_stripe
from core.recovery.context import recovery_settings
from core.recovery.drafting import inputs_hash, render
from core.recovery.rules import CaseFacts, evaluate
from tests.support.recovery import event, failed_charge, failed_pi, invoice

CODES = [
    "insufficient_funds",
    "expired_card",
    "do_not_honor",
    "generic_decline",
    "authentication_required",
    "stolen_card",
    "try_again_later",
    "incorrect_cvc",
    "stop_payment_order",
    "mystery_code_2027",
]
SEGMENTS = [None, "smb", "mid_market", "enterprise"]


def make_cases(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """n realistic failures: charge, payment intent and invoice objects plus CRM-ish context."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        code = rng.choice(CODES)
        amount = rng.choice([900, 4900, 19900, 99_000, 250_000])
        out.append(
            {
                "charge": failed_charge(
                    f"ch_{i}",
                    pi=f"pi_{i}",
                    customer=f"cus_{i % 5000}",
                    amount=amount,
                    decline=code,
                    advice=rng.choice([None, None, "try_again_later"]),
                ),
                "pi": failed_pi(f"pi_{i}", decline=code),
                "invoice": invoice(
                    f"in_{i}",
                    customer=f"cus_{i % 5000}",
                    amount=amount,
                    attempt=rng.randint(1, 4),
                    pi=f"pi_{i}",
                ),
                "segment": rng.choice(SEGMENTS),
                "mrr": rng.choice([None, 2_000, 50_000, 900_000]),
                "flags": ("enterprise_handling",) if rng.random() < 0.05 else (),
            }
        )
    return out


def pipeline(cases: list[dict[str, Any]]) -> int:
    """Classify, evaluate and draft every case; returns the number of drafts."""
    cfg, version = recovery_settings()
    today = date(2026, 11, 20)
    drafts = 0
    for c in cases:
        inv = c["invoice"]
        result = classify(facts_from_stripe(c["charge"], c["pi"]))
        signals = churn_signals(
            ChurnContext(crm_flags=c["flags"], attempt_count=inv["attempt_count"]),
            today=today,
        )
        decision = evaluate(
            CaseFacts(
                result.bucket,
                inv["amount_remaining"],
                "usd",
                c["mrr"],
                c["segment"],
                "ana" if c["segment"] else None,
                c["flags"],
                tuple(signals),
                retries_left=True,
            ),
            cfg,
            version,
        )
        facts = {
            "customer_name": inv["customer_name"],
            "customer_id": inv["customer"],
            "account_name": None,
            "invoice_number": inv["id"],
            "amount": format_money(inv["amount_remaining"], "usd"),
            "hosted_invoice_url": inv["hosted_invoice_url"],
            "next_retry": "December 1, 2026",
            "attempt": inv["attempt_count"],
            "sender_name": cfg.sender_name,
            "bucket_label": str(result.bucket),
            "recommended_action": decision.recommended_action,
            "rule_reasons": [h.reason for h in decision.hits],
        }
        for channel in ("email", "task") if decision.escalated else ("email",):
            d = render(str(result.bucket), channel, decision.tone, facts)
            inputs_hash(
                case_key=inv["id"],
                attempt=inv["attempt_count"],
                draft=d,
                facts=facts,
                model=None,
            )
            drafts += 1
    return drafts


def stored_path(n: int) -> float:
    """Cases/s through ingest + the processing handlers on a fresh SQLite file."""
    from core.db import make_engine, make_sessionmaker, migrate
    from core.sync.ingest import ingest_events
    from core.sync.processing import load_handler_modules, process_batch

    load_handler_modules()
    folder = Path(tempfile.mkdtemp(prefix="ld-bench-recovery-"))
    engine = make_engine(f"sqlite:///{folder / 'b.db'}")
    migrate(engine)
    Session = make_sessionmaker(engine)
    t0 = 1_780_000_000
    events = []
    for i, c in enumerate(make_cases(n, seed=2)):
        events.append(event("charge.failed", c["charge"], t0 + i))
        events.append(event("invoice.payment_failed", c["invoice"], t0 + i))
    started = time.perf_counter()
    with Session.begin() as s:
        ingest_events(s, events)
    while process_batch(Session, limit=1000).claimed:
        pass
    elapsed = time.perf_counter() - started
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return n / elapsed


def run() -> dict[str, Any]:
    """Figures: pure pipeline cases/s (target ≥ 5,000) and the stored path for reference."""
    cases = make_cases(20_000)
    pipeline(cases[:500])  # warm the template cache
    started = time.perf_counter()
    drafts = pipeline(cases)
    elapsed = time.perf_counter() - started
    return {
        "cases": len(cases),
        "drafts": drafts,
        "pipeline_cases_per_s": round(len(cases) / elapsed),
        "target_cases_per_s": 5000,
        "stored_path_cases_per_s_sqlite": round(stored_path(2_000)),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
