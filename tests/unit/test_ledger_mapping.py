"""Ledger mapping: every entry balances, a payout's entries add up to it, totals match the source."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.books.ledger_mapping import (
    CATEGORY_ROLE,
    account_totals,
    default_chart,
    load_chart,
    map_balance_transaction,
    parse_chart,
)

CHART = default_chart()
CATEGORIES = sorted(CATEGORY_ROLE) + ["something_new"]
SIGNS = {  # the sign Stripe gives each category's amount
    "charge": 1, "payment": 1, "refund": -1, "refund_failure": 1, "dispute": -1,
    "dispute_reversal": 1, "fee": -1, "payout": -1, "payout_reversal": 1,
}  # fmt: skip


@st.composite
def balance_transactions(draw: Any, category: str | None = None) -> dict[str, Any]:
    cat = category or draw(st.sampled_from(CATEGORIES))
    sign = SIGNS.get(cat) or draw(st.sampled_from([1, -1]))
    amount = sign * draw(st.integers(min_value=0, max_value=10_000_000))
    fee = draw(st.integers(min_value=-500, max_value=50_000)) if cat != "payout" else 0
    split = draw(st.booleans())
    details = (
        [
            {
                "amount": fee - fee // 5,
                "type": "stripe_fee",
                "description": "Stripe processing",
            },
            {"amount": fee // 5, "type": "tax", "description": "VAT"},
        ]
        if split
        else []
    )
    rate = draw(st.one_of(st.none(), st.floats(min_value=0.1, max_value=5.0)))
    return {
        "id": f"txn_{draw(st.integers(min_value=1, max_value=10**9))}",
        "object": "balance_transaction",
        "amount": amount,
        "fee": fee,
        "net": amount - fee,
        "fee_details": details,
        "currency": draw(st.sampled_from(["usd", "eur", "jpy"])),
        "exchange_rate": rate,
        "reporting_category": cat,
        "type": cat,
        "created": 1_760_000_000,
        "source": "ch_1",
    }


@settings(max_examples=300, deadline=None)
@given(bt=balance_transactions(), tax=st.integers(min_value=0, max_value=2_000_000))
def test_every_generated_entry_balances(bt: dict[str, Any], tax: int) -> None:
    entry = map_balance_transaction(bt, CHART, tax_amount=tax, original_currency="gbp")
    assert entry.balanced
    assert all(
        ln.debit >= 0 and ln.credit >= 0 and not (ln.debit and ln.credit) for ln in entry.lines
    )
    balance = sum(ln.debit - ln.credit for ln in entry.lines if ln.role == "stripe_balance")
    assert balance == bt["net"]


@settings(max_examples=150, deadline=None)
@given(bts=st.lists(balance_transactions(), min_size=1, max_size=30))
def test_entries_of_a_payout_sum_to_the_payout(bts: list[dict[str, Any]]) -> None:
    bts = [b for b in bts if b["reporting_category"] != "payout"]
    payout_amount = sum(b["net"] for b in bts)
    payout_bt = {"id": "txn_po", "amount": -payout_amount, "fee": 0, "net": -payout_amount,
                 "reporting_category": "payout", "currency": "usd", "created": 1}  # fmt: skip
    entries = [map_balance_transaction(b, CHART, payout_id="po_1") for b in bts]
    moved = sum(
        ln.debit - ln.credit for e in entries for ln in e.lines if ln.role == "stripe_balance"
    )
    assert moved == payout_amount
    # …and the payout itself empties the balance into the bank by exactly that amount.
    po_entry = map_balance_transaction(payout_bt, CHART)
    assert po_entry.balanced
    bank = sum(ln.debit - ln.credit for ln in po_entry.lines if ln.role == "bank")
    assert bank == payout_amount


@settings(max_examples=150, deadline=None)
@given(bts=st.lists(balance_transactions(), min_size=1, max_size=40))
def test_journal_totals_equal_the_balance_transaction_sums(
    bts: list[dict[str, Any]],
) -> None:
    for b in bts:
        b["currency"] = "usd"
    entries = [map_balance_transaction(b, CHART) for b in bts]
    totals = account_totals(entries)
    assert sum(totals.values()) == 0
    assert totals.get(("1010", "usd"), 0) == sum(b["net"] for b in bts)
    fees = sum(v for (code, _), v in totals.items() if code in ("6100", "6160", "1400"))
    fee_category = sum(-b["amount"] for b in bts if b["reporting_category"] == "fee")
    assert fees == sum(b["fee"] for b in bts) + fee_category
    assert sum(e.total_debit for e in entries) == sum(e.total_credit for e in entries)


def test_charge_with_tax_splits_revenue_and_tax() -> None:
    bt = {"id": "txn_1", "amount": 11900, "fee": 375, "net": 11525, "currency": "eur",
          "reporting_category": "charge", "created": 1}  # fmt: skip
    entry = map_balance_transaction(bt, CHART, tax_amount=1900)
    by_role = {ln.role: (ln.debit, ln.credit) for ln in entry.lines}
    assert by_role == {
        "stripe_balance": (11525, 0),
        "tax_payable": (0, 1900),
        "revenue": (0, 10000),
        "stripe_fees": (375, 0),
    }


def test_multi_currency_keeps_original_currency_and_rate() -> None:
    bt = {"id": "txn_2", "amount": 1086, "fee": 61, "net": 1025, "currency": "usd",
          "exchange_rate": 1.086, "reporting_category": "charge", "created": 1}  # fmt: skip
    entry = map_balance_transaction(bt, CHART, tax_amount=100, original_currency="eur")
    assert entry.currency == "usd"
    assert entry.exchange_rate == pytest.approx(1.086)
    assert entry.original_currency == "eur" and entry.original_amount == 1000
    tax = next(ln for ln in entry.lines if ln.role == "tax_payable")
    assert tax.credit == 109  # converted at Stripe's rate
    assert entry.balanced


def test_dispute_and_reinstatement_use_dispute_accounts() -> None:
    withdrawal = {"id": "t1", "amount": -5000, "fee": 1500, "net": -6500, "currency": "usd",
                  "reporting_category": "dispute", "created": 1}  # fmt: skip
    entry = map_balance_transaction(withdrawal, CHART)
    roles = {ln.role: (ln.debit, ln.credit) for ln in entry.lines}
    assert roles == {
        "stripe_balance": (0, 6500),
        "dispute_losses": (5000, 0),
        "dispute_fees": (1500, 0),
    }
    back = {"id": "t2", "amount": 5000, "fee": -1500, "net": 6500, "currency": "usd",
            "reporting_category": "dispute_reversal", "created": 2}  # fmt: skip
    roles = {ln.role: (ln.debit, ln.credit) for ln in map_balance_transaction(back, CHART).lines}
    assert roles == {
        "stripe_balance": (6500, 0),
        "dispute_losses": (0, 5000),
        "dispute_fees": (0, 1500),
    }


def test_unknown_category_goes_to_suspense_and_still_balances() -> None:
    bt = {"id": "t", "amount": 250, "fee": 0, "net": 250, "currency": "usd",
          "reporting_category": "brand_new_thing", "created": 1}  # fmt: skip
    entry = map_balance_transaction(bt, CHART)
    assert entry.balanced and {ln.role for ln in entry.lines} == {
        "stripe_balance",
        "suspense",
    }


def test_chart_of_accounts_from_toml(tmp_path: Any) -> None:
    path = tmp_path / "chart.toml"
    path.write_text('xero_tax_rate = "No VAT"\n[accounts.revenue]\ncode = "200"\nname = "Sales"\n')
    chart = load_chart(path)
    assert chart["revenue"].code == "200" and chart["stripe_fees"].code == "6100"
    assert chart.xero_tax_rate == "No VAT"
    with pytest.raises(ValueError, match="unknown account role"):
        parse_chart({"accounts": {"nope": {"code": "1"}}})
    with pytest.raises(ValueError, match="needs a code"):
        parse_chart({"accounts": {"revenue": {"name": "x"}}})
