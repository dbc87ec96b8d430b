"""Generator part two: refunds, disputes, early fraud warnings and daily payouts."""

from __future__ import annotations

import random
from typing import Any

from sandbox import flows, objects
from sandbox.store import Account, Obj

DAY = 86400
# reason: (weight, card network reason code or None where the reason comes from bank debits)
DISPUTE_REASONS = [
    ("fraudulent", 30, "10.4"),
    ("product_not_received", 14, "13.1"),
    ("subscription_canceled", 14, "13.2"),
    ("credit_not_processed", 10, "13.6"),
    ("unrecognized", 9, "4837"),
    ("duplicate", 8, "12.6.1"),
    ("product_unacceptable", 8, "13.3"),
    ("general", 5, "4853"),
    ("noncompliant", 1, "4870"),
    ("customer_initiated", 1, None),
    ("debit_not_authorized", 1, None),
    ("bank_cannot_process", 1, None),
    ("incorrect_account_details", 1, None),
    ("insufficient_funds", 1, None),
    ("check_returned", 1, None),
]
FRAUD_TYPES = ["made_with_stolen_card", "unauthorized_use_of_card", "card_never_received", "misc"]
# Where each generated dispute ends up (and whether it is an inquiry), cycled so that every
# status Stripe reports shows up even on a small account.
FATES = (
    ("needs_response", False),
    ("under_review", False),
    ("lost", False),
    ("won", False),
    ("needs_response", True),  # warning_needs_response
    ("appeal_needs_response", False),
    ("under_review", True),  # warning_under_review
    ("prevented", True),
    ("needs_response", False),
    ("appeal_under_review", False),
    ("lost", True),  # warning_closed
    ("won", False),
)
APPEAL_TEXT = (
    "The cardholder's bank ruled on incomplete records; the signed order form is attached."
)


def _pick_reasons(rng: random.Random, n: int) -> list[str]:
    """Every reason once (in random order) when there is room, then by real-world frequency."""
    names = [r for r, _, _ in DISPUTE_REASONS]
    weights = [w for _, w, _ in DISPUTE_REASONS]
    first = rng.sample(names, len(names)) if n >= len(names) else []
    return (first + rng.choices(names, weights, k=n))[:n]


def _submit(a: Account, dp_id: str, when: int, evidence: dict[str, Any]) -> Obj:
    """Evidence sent to the bank (the first response, or an appeal)."""
    dp = a.objects[dp_id]
    previous = {"status": dp["status"], "evidence_details": dp["evidence_details"]}
    details = dict(
        dp["evidence_details"],
        has_evidence=True,
        submission_count=dp["evidence_details"]["submission_count"] + 1,
        submission_method="manual",
    )
    status = (
        "appeal_under_review"
        if dp["status"] == "appeal_needs_response"
        else (
            "warning_under_review" if dp["status"] == "warning_needs_response" else "under_review"
        )
    )
    dp = a.update(dp_id, evidence=dict(dp["evidence"], **evidence), evidence_details=details,
                  status=status)  # fmt: skip
    flows._emit(a, "charge.dispute.updated", dp, when, flows.NO_REQ, previous)
    return dp


def _open_appeal(a: Account, dp_id: str, when: int, due_by: int) -> Obj:
    """The bank ruled against the first response; an appeal (with its own deadline) is open."""
    dp = a.objects[dp_id]
    previous = {"status": dp["status"], "evidence_details": dp["evidence_details"]}
    details = dict(dp["evidence_details"], due_by=due_by, past_due=False)
    dp = a.update(dp_id, status="appeal_needs_response", evidence_details=details)
    flows._emit(a, "charge.dispute.updated", dp, when, flows.NO_REQ, previous)
    return dp


def incidents(a: Account, rng: random.Random, charges_ok: list[str], now: int) -> None:
    """Refunds, disputes and early fraud warnings on a sample of successful charges."""
    pool = list(charges_ok)
    rng.shuffle(pool)
    n = len(pool)
    # Real accounts see well under 1 % of charges disputed; a floor keeps small demos lively.
    n_disputes = min(max(12, n // 200), n // 5)
    n_efw = min(max(6, n // 400), n // 10)
    n_refunds = min(max(10, n // 40), n // 8)
    disputes, efws, refunds = (
        pool[:n_disputes],
        pool[n_disputes : n_disputes + n_efw],
        pool[n_disputes + n_efw : n_disputes + n_efw + n_refunds],
    )
    codes = {r: c for r, _, c in DISPUTE_REASONS}
    # Disputes awaiting a first response were opened in the last three weeks: one chargeback and
    # one inquiry, so this month's dispute rate stays what a real account sees; the cycle's
    # further open ones are already answered (under review).
    awaiting = {False: 1, True: 1}
    for i, (ch_id, reason) in enumerate(
        zip(disputes, _pick_reasons(rng, len(disputes)), strict=True)
    ):
        fate, inquiry = FATES[i % len(FATES)]
        if fate == "needs_response":
            fate = "needs_response" if awaiting[inquiry] else "under_review"
            awaiting[inquiry] = max(0, awaiting[inquiry] - 1)
        _dispute(a, rng, ch_id, reason, codes[reason], fate, inquiry, now)
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


def _dispute(
    a: Account,
    rng: random.Random,
    ch_id: str,
    reason: str,
    code: str | None,
    fate: str,
    inquiry: bool,
    now: int,
) -> None:
    """One dispute from its opening to `fate`, with the events Stripe sends on the way."""
    ch = a.objects[ch_id]
    open_case = fate == "needs_response"
    if open_case:
        due_by = now + rng.randint(3 * 3600, 21 * DAY)
        created = max(ch["created"] + 3600, min(now - 600, due_by - rng.randint(7, 21) * DAY))
        created = min(created, now - 60)
    else:
        created = min(now - 40 * DAY, ch["created"] + rng.randint(5, 40) * DAY)
        created = max(created, ch["created"] + 3600)
        due_by = created + rng.randint(7, 21) * DAY
    if reason == "fraudulent" and rng.random() < 0.5 and created - 3 * DAY > ch["created"]:
        flows.early_fraud_warning(a, ch_id, created - 3 * DAY, rng.choice(FRAUD_TYPES))
    status = "warning_needs_response" if inquiry else "needs_response"
    dp = flows.open_dispute(
        a,
        ch_id,
        created,
        reason=reason,
        status=status,
        due_by=due_by,
        case_type="inquiry" if inquiry else "chargeback",
        network_reason_code=code,
    )
    if open_case:
        return
    if fate == "prevented":
        flows.close_dispute(a, dp["id"], "prevented", created + 3600)
        return
    answered = created + rng.randint(1, 5) * DAY
    text = {"uncategorized_text": "Customer used the service after the charge.",
            "product_description": "Monthly subscription to the Ledger finance desk."}  # fmt: skip
    if status.endswith("needs_response"):
        dp = _submit(a, dp["id"], answered, text)
    if fate == "under_review":
        return
    decided = min(now - 60, answered + rng.randint(10, 45) * DAY)
    if fate in ("appeal_needs_response", "appeal_under_review"):
        appeal_due = now + rng.randint(3, 14) * DAY
        opened = min(now - 3600, decided)
        dp = _open_appeal(a, dp["id"], opened, appeal_due)
        if fate == "appeal_under_review":
            appeal = {"card": {"reason_for_filing": APPEAL_TEXT, "supporting_files": []}}
            _submit(a, dp["id"], min(now - 60, opened + DAY), {"appeal": appeal})
        return
    outcome = "warning_closed" if inquiry else fate
    flows.close_dispute(a, dp["id"], outcome, decided)


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
    # A manual payout or two, never more than the balance left after the automatic ones.
    balance = sum(bt["net"] for bt in a.iter_type("balance_transaction"))
    for k in range(min(2, len(settled) // 15)):
        when = now - (k + 3) * DAY - 5 * 3600
        amount = min(rng.randint(500, 5000) * 100, balance // 2)
        if amount <= 0:
            break
        flows.pay_out(a, [], when, automatic=False, amount=amount)
        balance -= amount


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
