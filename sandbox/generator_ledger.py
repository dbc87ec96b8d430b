"""Generator part four: the rest of a mature account's balance activity.

Beyond charges, refunds, disputes and payouts, a real account's balance history carries Stripe's
own fees and the taxes on them, Connect transfers and collections, failed bank debits, top-ups,
Climate contributions, minimum-balance holds and risk reserves, and one-off adjustments. Each is a
balance transaction with the `type` and `reporting_category` Stripe gives it, so that books and
reconciliation meet every category they will meet in production.
"""

from __future__ import annotations

import random

from sandbox import objects
from sandbox.store import Account

DAY = 86400
MONTH = 30 * DAY


def _bt(
    a: Account,
    when: int,
    amount: int,
    type_: str,
    category: str,
    source: str | None,
    description: str,
    fee: int = 0,
) -> None:
    a.add(
        objects.balance_transaction(
            a,
            created=when,
            amount=amount,
            fee=fee,
            type_=type_,
            category=category,
            source=source,
            description=description,
        )
    )


def _volume(a: Account, start: int, end: int) -> int:
    """Gross card volume settled in a window (what monthly fees are computed from)."""
    return sum(
        bt["amount"]
        for bt in a.iter_type("balance_transaction")
        if bt["type"] == "charge" and start <= bt["created"] < end
    )


def ledger_activity(a: Account, rng: random.Random, start: int, now: int) -> None:
    """Monthly fees and the occasional Connect, treasury and risk movement (see the module doc)."""
    month = start - start % DAY + 2 * DAY + 9 * 3600
    n = 0
    while month + MONTH <= now:
        volume = _volume(a, month - MONTH, month)
        usage = max(100, round(volume * 0.005))
        _bt(a, month, -usage, "stripe_fee", "fee", None, "Billing - Usage Fee")
        _bt(a, month, -max(1, round(usage * 0.2)), "tax_fee", "tax", None, "Tax on Stripe fees")
        _bt(a, month + 3600, -max(50, round(volume * 0.005)), "contribution", "contribution",
            None, "Stripe Climate contribution")  # fmt: skip
        transfer = a.new_id("tr_")
        amount = rng.randint(50, 400) * 100
        _bt(a, month + 2 * DAY, -amount, "transfer", "transfer", transfer, "Connect transfer")
        if n % 5 == 2:
            _bt(a, month + 4 * DAY, amount // 2, "transfer_refund", "transfer_reversal",
                a.new_id("trr_"), "Connect transfer reversal")  # fmt: skip
        if n % 3 == 1:
            _bt(a, month + 5 * DAY, rng.randint(5, 60) * 100, "application_fee",
                "platform_earning", a.new_id("fee_"), "Application fee")  # fmt: skip
        if n % 6 == 3:
            _bt(a, month + 6 * DAY, rng.randint(10, 90) * 100, "connect_collection_transfer",
                "connect_collection_transfer", a.new_id("connct_"),
                "Collected from a connected account's negative balance")  # fmt: skip
        if n % 4 == 0:
            _bt(a, month + 7 * DAY, -rng.randint(20, 300) * 100, "payment_failure_refund",
                "charge_failure", a.new_id("py_"), "ACH Direct Debit payment failure")  # fmt: skip
        if n % 8 == 5:
            amount = rng.randint(100, 500) * 100
            topup = a.new_id("tu_")
            _bt(a, month + 8 * DAY, amount, "topup", "topup", topup, "Top-up from bank")
            if n % 16 == 13:
                _bt(a, month + 11 * DAY, -amount, "topup_reversal", "topup_reversal", topup,
                    "Top-up reversal")  # fmt: skip
        if n % 9 == 4:
            amount = rng.randint(100, 300) * 100
            _bt(a, month + 9 * DAY, -amount, "payout_minimum_balance_hold",
                "payout_minimum_balance_hold", None, "Minimum balance hold")  # fmt: skip
            _bt(a, month + 9 * DAY + MONTH, amount, "payout_minimum_balance_release",
                "payout_minimum_balance_release", None, "Minimum balance release")  # fmt: skip
        if n % 10 == 6:
            amount = rng.randint(200, 800) * 100
            _bt(a, month + 10 * DAY, -amount, "reserve_hold", "risk_reserved_funds", None,
                "Reserve held for dispute risk")  # fmt: skip
            if month + 10 * DAY + 3 * MONTH <= now:
                _bt(a, month + 10 * DAY + 3 * MONTH, amount, "reserve_release",
                    "risk_reserved_funds", None, "Reserve released")  # fmt: skip
        if n % 7 == 3:
            _bt(a, month + 12 * DAY, rng.choice([-1, 1]) * rng.randint(1, 50) * 100,
                "adjustment", "other_adjustment", None, "Balance adjustment")  # fmt: skip
        month += MONTH
        n += 1
