"""Bank reconciliation per Stripe account, on both databases: a platform with two connected
accounts, bank statements for the platform and one of them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from core.books.bank_reconciliation import match_bank
from core.books.data import store_objects
from core.drift.checks import bank_checks
from core.errors import InputError
from core.imports import IMPORTERS
from core.models.books import BankDeposit
from tests.support.books import DAY, T0, payout

TODAY = date(2026, 3, 1)
MISSING = {"po_P_07", "po_P_13", "po_A_05"}  # the truth: deposits that never reached the bank


def _payouts(prefix: str, n: int, base: int) -> list[dict[str, Any]]:
    return [
        payout(base + 100 * k, id=f"po_{prefix}_{k:02d}", arrival=T0 + k * DAY, trace=None)
        for k in range(n)
    ]


def _statement(payouts: list[dict[str, Any]]) -> bytes:
    lines = ["Date,Description,Amount,Currency"]
    for p in payouts:
        if p["id"] not in MISSING:
            day = datetime.fromtimestamp(p["arrival_date"], UTC).date().isoformat()
            lines.append(f"{day},STRIPE PAYOUT,{p['amount'] / 100:.2f},USD")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def connected(Session: Any) -> dict[str, list[dict[str, Any]]]:
    """Platform and acct_A have statements; acct_B (with the most payouts) has none. acct_A's
    amounts equal the platform's, day for day, so a statement matched against every account's
    payouts would pair them across accounts."""
    books = {
        "": _payouts("P", 30, 10_000),
        "acct_A": _payouts("A", 30, 10_000),
        "acct_B": _payouts("B", 40, 20_000),
    }
    with Session.begin() as s:
        for acct, payouts in books.items():
            store_objects(s, acct, payouts)
        IMPORTERS["bank"].run(s, _statement(books[""]))
        IMPORTERS["bank"].run(s, _statement(books["acct_A"]), account="acct_A")
    return books


def test_missing_payouts_are_counted_only_where_a_statement_lacks_them(
    Session: Any, connected: dict[str, list[dict[str, Any]]]
) -> None:
    with Session() as s:
        checks = {c.name: c for c in bank_checks(s, today=TODAY)}
    assert sorted(i.key for i in checks["bank_payout_missing"].items) == sorted(MISSING)
    assert checks["bank_unknown_deposit"].count == 0
    assert [i.key for i in checks["bank_no_statement"].items] == ["account:acct_B"]
    assert "40 payout(s)" in checks["bank_no_statement"].items[0].summary
    assert "--account acct_B" in checks["bank_no_statement"].items[0].summary


def test_matches_stay_within_each_account(
    Session: Any, connected: dict[str, list[dict[str, Any]]]
) -> None:
    with Session() as s:
        result = match_bank(s, today=TODAY)
        deposit_account = dict(s.execute(select(BankDeposit.id, BankDeposit.account)).all())
    assert len(result.matches) == 30 + 30 - len(MISSING)
    payout_account = {p["id"]: acct for acct, ps in connected.items() for p in ps}
    for m in result.matches:
        assert {deposit_account[int(d)] for d in m.deposit_ids} == {payout_account[m.payout_id]}
    assert {a.account: a.has_statement for a in result.accounts} == {
        "": True,
        "acct_A": True,
        "acct_B": False,
    }


def test_a_statement_names_its_account_and_keeps_its_own_rows(Session: Any) -> None:
    text = b"Date,Amount,Reference\n2026-01-10,50.00,TR1\n"
    with Session.begin() as s:
        IMPORTERS["bank"].run(s, text)
        IMPORTERS["bank"].run(s, text, account="acct_A")  # the same line on another bank
        IMPORTERS["bank"].run(s, text, account="acct_A")  # a re-import updates
        column = IMPORTERS["bank"].run(
            s, b"Date,Amount,Stripe Account\n2026-01-11,7.00,acct_B\n2026-01-11,8.00,bogus\n"
        )
        assert column.loaded == 1 and "not an account id" in column.errors[0].message
        clash = IMPORTERS["bank"].run(
            s, b"Date,Amount,Stripe Account\n2026-01-12,9.00,acct_B\n", account="acct_A"
        )
        assert clash.loaded == 0 and "imported for acct_A" in clash.errors[0].message
        rows = s.execute(
            select(BankDeposit.account, func.count()).group_by(BankDeposit.account)
        ).all()
    assert dict(rows) == {"": 1, "acct_A": 1, "acct_B": 1}
    with Session.begin() as s, pytest.raises(InputError, match="not an account id"):
        IMPORTERS["bank"].run(s, text, account="A-1")
