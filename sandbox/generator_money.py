"""Generator part two: refunds, disputes, early fraud warnings and daily payouts."""

from __future__ import annotations

import random

from sandbox import flows, objects
from sandbox.store import Account

DAY = 86400
DISPUTE_REASONS = [
    ("fraudulent", 30, "10.4"),
    ("product_not_received", 15, "13.1"),
    ("subscription_canceled", 15, "13.2"),
    ("duplicate", 8, "12.6.1"),
    ("credit_not_processed", 10, "13.6"),
    ("product_unacceptable", 8, "13.3"),
    ("unrecognized", 9, "4837"),
    ("general", 5, "4853"),
]
FRAUD_TYPES = ["made_with_stolen_card", "unauthorized_use_of_card", "card_never_received", "misc"]
FRAUD_TYPES = ["made_with_stolen_card", "unauthorized_use_of_card", "card_never_received", "misc"]


def incidents(a: Account, rng: random.Random, charges_ok: list[str], now: int) -> None:
    """Refunds, disputes and early fraud warnings on a sample of successful charges."""
    pool = list(charges_ok)
    rng.shuffle(pool)
    n = len(pool)
    # Enough incidents for a lively demo, but never more than a share of a tiny account's charges.
    n_disputes = min(max(12, n // 60), n // 5)
    n_efw = min(max(6, n // 120), n // 10)
    n_refunds = min(max(10, n // 40), n // 8)
    disputes, efws, refunds = (
        pool[:n_disputes],
        pool[n_disputes : n_disputes + n_efw],
        pool[n_disputes + n_efw : n_disputes + n_efw + n_refunds],
    )
    reasons = [r for r, _, _ in DISPUTE_REASONS]
    rweights = [w for _, w, _ in DISPUTE_REASONS]
    codes = {r: c for r, _, c in DISPUTE_REASONS}
    for i, ch_id in enumerate(disputes):
        ch = a.objects[ch_id]
        reason = rng.choices(reasons, rweights)[0]
        inquiry = rng.random() < 0.15
        open_case = i % 3 != 2  # two thirds still need a response
        if open_case:
            due_by = now + rng.randint(3 * 3600, 21 * DAY)
            created = max(ch["created"] + 3600, min(now - 600, due_by - rng.randint(7, 21) * DAY))
        else:
            created = min(now - 22 * DAY, ch["created"] + rng.randint(5, 40) * DAY)
            created = max(created, ch["created"] + 3600)
            due_by = created + rng.randint(7, 21) * DAY
        if reason == "fraudulent" and rng.random() < 0.5 and created - 3 * DAY > ch["created"]:
            flows.early_fraud_warning(a, ch_id, created - 3 * DAY, rng.choice(FRAUD_TYPES))
        status = (
            ("warning_needs_response" if inquiry else "needs_response")
            if due_by > now
            else ("warning_under_review" if inquiry else "under_review")
        )
        dp = flows.open_dispute(
            a,
            ch_id,
            created,
            reason=reason,
            status=status,
            due_by=due_by,
            case_type="inquiry" if inquiry else "chargeback",
            network_reason_code=codes[reason],
        )
        if not open_case and dp["status"].endswith("under_review") and i % 2:
            # Evidence went in; the bank has not decided yet.
            details = dict(dp["evidence_details"], has_evidence=True, submission_count=1)
            evidence = dict(dp["evidence"], uncategorized_text="Customer used the service.")
            dp = a.update(dp["id"], evidence=evidence, evidence_details=details)
            flows._emit(a, "charge.dispute.updated", dp, created + DAY, flows.NO_REQ)
        elif not open_case:
            end = min(now - 60, created + rng.randint(10, 60) * DAY)
            outcome = "warning_closed" if inquiry else rng.choice(["won", "lost", "lost"])
            if end > created:
                flows.close_dispute(a, dp["id"], outcome, end)
    for ch_id in efws:
        ch = a.objects[ch_id]
        flows.early_fraud_warning(
            a,
            ch_id,
            min(now - 60, ch["created"] + rng.randint(1, 20) * DAY),
            rng.choice(FRAUD_TYPES),
        )
    for ch_id in refunds:
        ch = a.objects[ch_id]
        amount = ch["amount"] if rng.random() < 0.7 else ch["amount"] // 2
        when = min(now - 60, ch["created"] + rng.randint(1, 10) * DAY)
        re = flows.refund_charge(
            a, ch_id, amount, when, reason=rng.choice(["requested_by_customer", "duplicate"])
        )
        if rng.random() < 0.12 and when + DAY < now:
            fail_refund(a, re["id"], when + DAY)


def fail_refund(a: Account, re_id: str, when: int) -> None:
    """A refund that looked successful fails later (the card was closed): funds come back."""
    re = a.objects[re_id]
    bt = a.add(
        objects.balance_transaction(
            a,
            created=when,
            amount=re["amount"],
            fee=0,
            type_="refund_failure",
            category="refund_failure",
            source=re_id,
            description="REFUND FAILURE",
        )
    )
    previous = {"status": re["status"]}
    re = a.update(
        re_id,
        status="failed",
        failure_reason="expired_or_canceled_card",
        failure_balance_transaction=bt["id"],
    )
    flows._emit(a, "refund.updated", re, when, flows.NO_REQ, previous)
    flows._emit(a, "refund.failed", re, when, flows.NO_REQ, previous)
    ch = a.objects[re["charge"]]
    a.update(ch["id"], amount_refunded=ch["amount_refunded"] - re["amount"], refunded=False)


def payouts(a: Account, rng: random.Random, start: int, now: int) -> None:
    """Daily automatic payouts of everything that became available, plus a manual one or two."""
    pending = sorted(
        (bt["available_on"], bt["id"])
        for bt in a.iter_type("balance_transaction")
        if bt["type"] != "payout"
    )
    i = 0
    day = start - start % DAY + DAY + 2 * 3600
    paid: list[str] = []
    while day <= now:
        batch = []
        while i < len(pending) and pending[i][0] <= day:
            batch.append(pending[i][1])
            i += 1
        if batch and sum(a.objects[b]["net"] for b in batch) > 0:
            po = flows.pay_out(a, batch, day, automatic=True)
            paid.append(po["id"])
        elif batch:
            pending[i:i] = [(day + DAY, b) for b in batch]  # negative balance carries to tomorrow
        day += DAY
    settled = [p for p in paid if a.objects[p]["status"] == "paid"]
    for po_id in rng.sample(settled, min(2, max(0, len(settled) // 20))):
        _fail_payout(a, po_id)
    for k in range(min(2, len(settled) // 15)):
        when = now - (k + 3) * DAY - 5 * 3600
        flows.pay_out(a, [], when, automatic=False, amount=rng.randint(500, 5000) * 100)


def _fail_payout(a: Account, po_id: str) -> None:
    """Turn a paid payout into a failed one (banks can return a payout days later)."""
    po = a.objects[po_id]
    when = min(a.now_int() - 60, po["arrival_date"] + DAY)
    fbt = a.add(
        objects.balance_transaction(
            a,
            created=when,
            amount=po["amount"],
            fee=0,
            type_="payout_failure",
            category="payout_reversal",
            source=po_id,
            description="Payout failure",
            available_on=when,
        )
    )
    po = a.update(
        po_id,
        status="failed",
        failure_code="account_closed",
        failure_balance_transaction=fbt["id"],
        failure_message="The bank account has been closed.",
    )
    flows._emit(a, "payout.failed", po, when, flows.NO_REQ, {"status": "paid"})
