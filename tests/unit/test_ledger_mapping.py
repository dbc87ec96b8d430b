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
# Every reporting category Stripe documents (docs.stripe.com/reports/reporting-categories),
# written out here rather than read from the mapping, so a category dropped from it fails.
DOCUMENTED = (
    "advance", "advance_funding", "anticipation_repayment", "charge", "charge_failure",
    "climate_order_purchase", "climate_order_refund", "connect_collection_transfer",
    "connect_reserved_funds", "contribution", "currency_conversion", "dispute",
    "dispute_reversal", "fee", "financing_paydown", "financing_paydown_reversal",
    "financing_payout", "financing_payout_reversal", "issuing_authorization_hold",
    "issuing_authorization_release", "issuing_dispute", "issuing_transaction", "network_cost",
    "obligation", "other_adjustment", "partial_capture_reversal", "payment_network_reserve_hold",
    "payment_network_reserve_release", "payout", "payout_minimum_balance_hold",
    "payout_minimum_balance_release", "payout_reversal", "platform_earning",
    "platform_earning_refund", "refund", "refund_failure", "risk_reserved_funds", "tax", "topup",
    "topup_reversal", "transfer", "transfer_reversal", "unreconciled_customer_funds",
)  # fmt: skip
CATEGORIES = sorted(set(CATEGORY_ROLE) | set(DOCUMENTED)) + ["something_new"]
SIGNS = {  # the sign Stripe gives each category's amount
    "charge": 1, "payment": 1, "refund": -1, "refund_failure": 1, "dispute": -1,
    "dispute_reversal": 1, "fee": -1, "payout": -1, "payout_reversal": 1, "topup": 1,
    "topup_reversal": -1, "contribution": -1, "payout_minimum_balance_hold": -1,
    "payout_minimum_balance_release": 1, "charge_failure": -1, "financing_payout": 1,
    "financing_paydown": -1, "platform_earning": 1, "platform_earning_refund": -1,
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
    fee_category = sum(
        -b["amount"] for b in bts if CHART.role_for(b["reporting_category"]) == "stripe_fees"
    )
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


def _reporting_categories_in_stripe_python() -> set[str]:
    """The reporting categories stripe-python (generated from Stripe's OpenAPI spec) accepts."""
    import typing

    from stripe.params.reporting._report_run_create_params import (
        ReportRunCreateParamsParameters,
    )

    def literals(t: Any) -> set[str]:
        out: set[str] = set()
        for arg in typing.get_args(t):
            out |= {arg} if isinstance(arg, str) else literals(arg)
        return out

    hints = typing.get_type_hints(ReportRunCreateParamsParameters)
    return literals(hints["reporting_category"])


def test_the_documented_list_covers_every_category_stripe_python_knows() -> None:
    known = _reporting_categories_in_stripe_python()
    assert len(known) > 30
    assert known - set(DOCUMENTED) == set()


@pytest.mark.parametrize("category", DOCUMENTED)
def test_every_documented_category_has_an_account(category: str) -> None:
    assert CHART.is_mapped(category)
    bt = {"id": "t", "amount": -1234, "fee": 56, "net": -1290, "currency": "usd",
          "reporting_category": category, "created": 1}  # fmt: skip
    entry = map_balance_transaction(bt, CHART)
    assert entry.balanced and not entry.in_suspense
    assert "suspense" not in {ln.role for ln in entry.lines}
    assert all(ln.account.code != CHART["suspense"].code for ln in entry.lines)


@settings(max_examples=400, deadline=None)
@given(
    bts=st.lists(
        st.sampled_from(DOCUMENTED).flatmap(lambda c: balance_transactions(category=c)),
        min_size=1,
        max_size=25,
    )
)
def test_every_batch_of_documented_categories_balances_off_suspense(
    bts: list[dict[str, Any]],
) -> None:
    entries = [map_balance_transaction(b, CHART) for b in bts]
    assert all(e.balanced and not e.in_suspense for e in entries)
    assert sum(e.total_debit for e in entries) == sum(e.total_credit for e in entries)
    fee_roles = {"stripe_fees", "dispute_fees", "fee_tax"}
    for e, b in zip(entries, bts, strict=True):
        role = CHART.role_for(b["reporting_category"])
        if role in fee_roles:
            continue
        # the gross lands on the category's account, the fee on a fee account, the net on
        # the balance: nothing else is touched
        assert {ln.role for ln in e.lines} <= {"stripe_balance", role, *fee_roles}
        assert sum(ln.debit - ln.credit for ln in e.lines if ln.role == role) == -b["amount"]


# (category, amount, fee) → the debit / credit each role gets, as an accountant would book it.
SIDES = [
    ("topup", 50000, 0, {"stripe_balance": (50000, 0), "bank": (0, 50000)}),
    ("topup_reversal", -50000, 0, {"stripe_balance": (0, 50000), "bank": (50000, 0)}),
    ("transfer", -8000, 0, {"stripe_balance": (0, 8000), "connect_transfers": (8000, 0)}),
    ("transfer_reversal", 3000, 0, {"stripe_balance": (3000, 0), "connect_transfers": (0, 3000)}),
    ("connect_collection_transfer", 700, 0,
     {"stripe_balance": (700, 0), "connect_transfers": (0, 700)}),
    ("fee", -2500, 0, {"stripe_balance": (0, 2500), "stripe_fees": (2500, 0)}),
    ("network_cost", -40, 0, {"stripe_balance": (0, 40), "stripe_fees": (40, 0)}),
    ("charge_failure", -4000, 0, {"stripe_balance": (0, 4000), "failed_payments": (4000, 0)}),
    ("contribution", -150, 0, {"stripe_balance": (0, 150), "contributions": (150, 0)}),
    ("payout_minimum_balance_hold", -10000, 0,
     {"stripe_balance": (0, 10000), "stripe_reserve": (10000, 0)}),
    ("payout_minimum_balance_release", 10000, 0,
     {"stripe_balance": (10000, 0), "stripe_reserve": (0, 10000)}),
    ("risk_reserved_funds", -900, 0, {"stripe_balance": (0, 900), "stripe_reserve": (900, 0)}),
    ("financing_payout", 200000, 0, {"stripe_balance": (200000, 0), "financing": (0, 200000)}),
    ("financing_paydown", -1200, 0, {"stripe_balance": (0, 1200), "financing": (1200, 0)}),
    ("platform_earning", 300, 0, {"stripe_balance": (300, 0), "platform_fees": (0, 300)}),
    ("platform_earning_refund", -100, 0, {"stripe_balance": (0, 100), "platform_fees": (100, 0)}),
    ("unreconciled_customer_funds", 5000, 0,
     {"stripe_balance": (5000, 0), "customer_funds": (0, 5000)}),
    ("tax", -1900, 0, {"stripe_balance": (0, 1900), "tax_payable": (1900, 0)}),
    ("issuing_transaction", -2599, 0, {"stripe_balance": (0, 2599), "issuing_spend": (2599, 0)}),
    ("currency_conversion", -10000, 0, {"stripe_balance": (0, 10000), "fx_clearing": (10000, 0)}),
    ("refund_failure", 2000, 0, {"stripe_balance": (2000, 0), "refunds": (0, 2000)}),
    ("charge", 10000, 320, {"stripe_balance": (9680, 0), "revenue": (0, 10000),
                            "stripe_fees": (320, 0)}),
]  # fmt: skip


@pytest.mark.parametrize(("category", "amount", "fee", "want"), SIDES)
def test_each_category_books_on_the_right_side(
    category: str, amount: int, fee: int, want: dict[str, tuple[int, int]]
) -> None:
    bt = {"id": "t", "amount": amount, "fee": fee, "net": amount - fee, "currency": "usd",
          "reporting_category": category, "created": 1}  # fmt: skip
    entry = map_balance_transaction(bt, CHART)
    assert {ln.role: (ln.debit, ln.credit) for ln in entry.lines} == want


def test_hold_and_release_of_a_payout_leave_the_reserve_empty() -> None:
    entries = [
        map_balance_transaction(
            {
                "id": f"t{n}",
                "amount": a,
                "fee": 0,
                "net": a,
                "currency": "usd",
                "reporting_category": c,
            },
            CHART,
        )  # fmt: skip
        for n, (c, a) in enumerate(
            [("payout_minimum_balance_hold", -10000), ("payout_minimum_balance_release", 10000)]
        )
    ]
    assert account_totals(entries).get((CHART["stripe_reserve"].code, "usd"), 0) == 0


def test_unknown_category_is_flagged_and_the_chart_file_can_map_it(tmp_path: Any) -> None:
    bt = {"id": "t", "amount": -250, "fee": 0, "net": -250, "currency": "usd",
          "reporting_category": "brand_new_thing", "created": 1}  # fmt: skip
    entry = map_balance_transaction(bt, CHART)
    assert entry.in_suspense and not CHART.is_mapped("brand_new_thing")
    parked = next(ln for ln in entry.lines if ln.role == "suspense")
    assert "brand_new_thing" in parked.description and "chart" in parked.description
    path = tmp_path / "chart.toml"
    path.write_text('[categories]\nbrand_new_thing = "adjustments"\n')
    chart = load_chart(path)
    mapped = map_balance_transaction(bt, chart)
    assert not mapped.in_suspense and mapped.balanced
    assert {ln.role: (ln.debit, ln.credit) for ln in mapped.lines} == {
        "stripe_balance": (0, 250),
        "adjustments": (250, 0),
    }
    with pytest.raises(ValueError, match="not a role"):
        parse_chart({"categories": {"brand_new_thing": "nowhere"}})
