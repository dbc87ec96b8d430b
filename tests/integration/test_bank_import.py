"""Bank statement CSVs: other delimiters and encodings, bad rows rejected, good rows kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.imports import IMPORTERS
from core.models.books import BankDeposit, Entitlement


def test_comma_utf8_with_bad_rows_keeps_good_rows(Session: Any) -> None:
    csv_text = (
        "Date,Description,Amount,Currency,Reference\n"
        "2026-01-10,STRIPE PAYOUT TR1,1234.50,USD,TR1\n"
        "not a date,STRIPE PAYOUT TR2,10.00,USD,TR2\n"
        "2026-01-11,STRIPE PAYOUT TR3,,USD,TR3\n"
        "2026-01-11,STRIPE PAYOUT TR4,99.00,USDOLLAR,TR4\n"
        "2026-01-12,STRIPE PAYOUT TR5,50.00,USD,TR5\n"
        "2026-01-12,STRIPE PAYOUT TR5,50.00,USD,TR5\n"  # a second identical deposit is real
    )
    with Session.begin() as s:
        result = IMPORTERS["bank"].run(s, csv_text.encode())
    assert (result.rows_read, result.loaded, result.error_count) == (6, 3, 3)
    assert [e.line for e in result.errors] == [3, 4, 5]
    assert "date" in result.errors[0].message
    with Session.begin() as s:
        amounts = s.scalars(select(BankDeposit.amount).order_by(BankDeposit.id)).all()
        assert amounts == [123450, 5000, 5000]
        again = IMPORTERS["bank"].run(s, csv_text.encode())  # re-import updates, never duplicates
        assert (again.inserted, again.updated) == (0, 3)
        assert s.scalar(select(func.count()).select_from(BankDeposit)) == 3


def test_semicolon_cp1252_credit_debit_columns(Session: Any) -> None:
    text = (
        "Buchungstag;Verwendungszweck;Credit;Debit;Währung\n"
        "10.01.2026;STRIPE Auszahlung – März;1.234,50;;EUR\n"
        "11.01.2026;Miete Büro;;800,00;EUR\n"
        "12.01.2026;kaputt;abc;;EUR\n"
    ).encode("cp1252")
    with Session.begin() as s:
        result = IMPORTERS["bank"].run(s, text)
        assert result.delimiter == ";" and result.encoding == "cp1252"
        assert result.loaded == 2 and result.error_count == 1
        rows = s.execute(
            select(BankDeposit.amount, BankDeposit.currency, BankDeposit.description)
        ).all()
    assert sorted(r[0] for r in rows) == [-80000, 123450]
    assert {r[1] for r in rows} == {"eur"} and any("März" in (r[2] or "") for r in rows)


def test_tab_separated_with_type_column(Session: Any) -> None:
    text = (
        "date\tamount\ttype\treference\n2026-01-10\t25.00\tdebit\tX\n2026-01-10\t30.00\tcredit\tY\n"
    )
    with Session.begin() as s:
        result = IMPORTERS["bank"].run(s, text.encode())
        assert result.delimiter == "\t" and result.loaded == 2
        assert sorted(s.scalars(select(BankDeposit.amount))) == [-2500, 3000]


def test_entitlements_import(Session: Any) -> None:
    text = (
        "stripe_customer_id,subscription_id,plan,seats,access,updated_at\n"
        "cus_A1,sub_1,Pro,3,active,2026-01-02\n"
        "cus_B2,sub_2,Pro,1,revoked,2026-01-03\n"
        "cus_C3,sub_3,Pro,1,maybe,2026-01-03\n"
        "nobody,sub_4,Pro,1,active,2026-01-03\n"
    )
    with Session.begin() as s:
        result = IMPORTERS["entitlements"].run(s, text.encode())
        assert result.loaded == 2 and result.error_count == 2
        got = dict(
            s.execute(select(Entitlement.stripe_customer_id, Entitlement.access_active)).all()
        )
    assert got == {"cus_A1": True, "cus_B2": False}
