"""Deposits ↔ payouts: the edge cases a finance team actually meets."""

from __future__ import annotations

from datetime import date

from core.books.bank_matching import Deposit, PayoutInfo, match_deposits

TODAY = date(2026, 2, 1)
D = date(2026, 1, 10)


def po(id: str, amount: int, on: date = D, **kw: object) -> PayoutInfo:
    return PayoutInfo(id, on, amount, "usd", str(kw.pop("status", "paid")), **kw)  # type: ignore[arg-type]


def dep(
    id: str, amount: int, on: date = D, desc: str = "STRIPE TRANSFER", ref: str = ""
) -> Deposit:
    return Deposit(id, on, amount, "usd", desc, ref)


def test_two_payouts_of_the_same_amount_on_one_day_pair_off() -> None:
    r = match_deposits(
        [dep("d1", 5000), dep("d2", 5000)], [po("po_a", 5000), po("po_b", 5000)], TODAY
    )
    assert sorted((m.payout_id, m.deposit_ids) for m in r.matches) == [
        ("po_a", ("d1",)),
        ("po_b", ("d2",)),
    ]
    assert not r.unmatched_payouts and not r.unmatched_deposits


def test_same_amount_same_day_with_one_deposit_leaves_one_payout_open() -> None:
    r = match_deposits([dep("d1", 5000)], [po("po_a", 5000), po("po_b", 5000)], TODAY)
    assert [m.payout_id for m in r.matches] == ["po_a"]
    assert [u.id for u in r.unmatched_payouts] == ["po_b"]
    assert "no deposit" in r.unmatched_payouts[0].reason


def test_a_deposit_a_day_late_still_matches_and_prefers_the_closest() -> None:
    r = match_deposits(
        [dep("late", 7000, date(2026, 1, 11)), dep("other", 7000, date(2026, 1, 13))],
        [po("po_1", 7000)],
        TODAY,
    )
    assert r.matches[0].deposit_ids == ("late",) and r.matches[0].days_late == 1
    assert [u.id for u in r.unmatched_deposits] == ["other"]


def test_trace_id_wins_over_amount_order() -> None:
    r = match_deposits(
        [dep("d1", 100, ref="TRACE-B"), dep("d2", 100, ref="TRACE-A")],
        [po("po_a", 100, trace_id="TRACE-A"), po("po_b", 100, trace_id="TRACE-B")],
        TODAY,
    )
    got = {m.payout_id: (m.deposit_ids, m.method) for m in r.matches}
    assert got == {"po_a": (("d2",), "trace id"), "po_b": (("d1",), "trace id")}


def test_failed_payout_is_listed_with_its_reason_and_never_matched() -> None:
    r = match_deposits(
        [dep("d1", 4200)],
        [po("po_f", 4200, status="failed", failed_after_paid=True)],
        TODAY,
    )
    assert r.matches == []
    assert "failed payout" in r.unmatched_payouts[0].reason
    assert "failed payout po_f" in r.unmatched_deposits[0].reason


def test_manual_payout_matches_by_amount_and_date_or_says_manual() -> None:
    r = match_deposits([dep("d1", 9900)], [po("po_m", 9900, automatic=False)], TODAY)
    assert r.matches[0].method == "amount and date"
    r = match_deposits([], [po("po_m", 9900, automatic=False)], TODAY)
    assert r.unmatched_payouts[0].reason.startswith("manual payout")


def test_split_deposit_and_in_transit() -> None:
    r = match_deposits(
        [
            dep("d1", 3000),
            dep("d2", 2000, date(2026, 1, 11)),
            dep("x", 999, desc="ACME REFUND"),
        ],
        [po("po_s", 5000), po("po_t", 1234, date(2026, 1, 31), status="in_transit")],
        TODAY,
    )
    assert r.matches[0].method == "split deposit" and set(r.matches[0].deposit_ids) == {
        "d1",
        "d2",
    }
    assert r.unmatched_payouts[0].reason.startswith("in transit")
    assert r.unmatched_deposits[0].reason.startswith("not from Stripe")


def test_each_account_is_matched_against_its_own_statement_only() -> None:
    from core.books.bank_matching import match_accounts

    payouts = [
        po("po_plat", 5000),
        po("po_a", 7000, account="acct_A"),
        po("po_b", 5000, account="acct_B"),  # same amount and day as the platform's payout
        po("po_b2", 9000, account="acct_B"),
    ]
    deposits = [dep("d1", 5000), Deposit("d2", D, 5000, "usd", "STRIPE", "", "acct_A")]
    r = match_accounts(deposits, payouts, TODAY, {"", "acct_A"})
    by = {a.account: a for a in r.accounts}
    assert [(m.payout_id, m.account) for m in r.matches] == [("po_plat", "")]
    # acct_A's deposit of 5000 is not the platform's payout, and acct_A's payout stays missing
    assert [(u.id, u.account) for u in r.unmatched_payouts] == [("po_a", "acct_A")]
    assert [(u.id, u.account) for u in r.unmatched_deposits] == [("d2", "acct_A")]
    # acct_B has no statement: listed as such, none of its payouts counted as missing
    assert [(a.account, a.payouts) for a in r.without_statement] == [("acct_B", 2)]
    assert not by["acct_B"].has_statement and not by["acct_B"].result.unmatched_payouts
