"""Bank statement lines from a CSV export (most banks, Xero/QuickBooks bank exports, sheets).

CSV only: OFX would need an extra parser dependency for a format most banks also export as CSV.
A statement has either one signed amount column or separate credit / debit columns. Lines
without a bank transaction id are keyed by date, amount, reference and their occurrence in the
file, so two identical deposits on one day stay two rows and a re-import updates instead of
duplicating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.imports.csv_import import Importer, run_import, stamped_upsert
from core.imports.csv_reader import CsvSchema, Field, ImportResult, Source
from core.imports.csv_values import parse_date, parse_money
from core.models.books import BankDeposit

FIELDS = (
    Field(
        "posted_on",
        (
            "Date",
            "Posted Date",
            "Transaction Date",
            "Booking Date",
            "Value Date",
            "Posting Date",
            "Buchungstag",
        ),
        parse_date,
        required=True,
    ),
    Field("amount", ("Amount", "Transaction Amount", "Betrag", "Value"), parse_money),
    Field(
        "credit",
        (
            "Credit",
            "Credits",
            "Deposit",
            "Deposits",
            "Credit Amount",
            "Money In",
            "Paid In",
        ),
        parse_money,
    ),
    Field(
        "debit",
        (
            "Debit",
            "Debits",
            "Withdrawal",
            "Withdrawals",
            "Debit Amount",
            "Money Out",
            "Paid Out",
        ),
        parse_money,
    ),
    Field("direction", ("Type", "Transaction Type", "CR/DR", "Dr/Cr")),
    Field("currency", ("Currency", "Currency Code", "Ccy", "Währung")),
    Field(
        "description",
        (
            "Description",
            "Memo",
            "Narrative",
            "Details",
            "Payee",
            "Name",
            "Transaction Details",
            "Verwendungszweck",
        ),
    ),
    Field(
        "reference",
        (
            "Reference",
            "Ref",
            "Trace ID",
            "Trace",
            "Bank Reference",
            "Customer Reference",
            "Check Number",
        ),
    ),
    Field(
        "transaction_id",
        ("Transaction ID", "FITID", "ID", "Bank Transaction ID", "Txn ID"),
    ),
    Field("bank_account", ("Account", "Account Number", "IBAN", "Account Name")),
)


def _finish(record: dict[str, Any], seen: dict[str, int]) -> dict[str, Any]:
    amount = record["amount"]
    if amount is None:
        if record["credit"] is None and record["debit"] is None:
            raise ValueError("needs an amount (or a credit / debit)")
        amount = abs(record["credit"] or 0) - abs(record["debit"] or 0)
    elif (record["direction"] or "").strip().lower() in (
        "debit",
        "dr",
        "d",
        "withdrawal",
    ):
        amount = -abs(amount)
    currency = (record["currency"] or "usd").strip().lower()
    if len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"currency {record['currency']!r} is not a 3-letter code such as USD")
    ref = (record["reference"] or "").strip()
    if record["transaction_id"]:
        key = f"txn:{record['transaction_id']}"
    else:
        base = (
            f"{record['posted_on'].isoformat()}|{amount}|{currency}|{ref or record['description']}"
        )
        seen[base] = seen.get(base, 0) + 1
        key = f"{base}|{seen[base]}"[:320]
    return {
        "natural_key": key,
        "bank_account": record["bank_account"],
        "posted_on": record["posted_on"],
        "amount": amount,
        "currency": currency,
        "description": record["description"],
        "reference": ref or None,
    }


def schema() -> CsvSchema:
    """A fresh schema: occurrence counting is per file."""
    seen: dict[str, int] = {}
    return CsvSchema(
        name="bank statement",
        fields=FIELDS,
        require_one_of=(("amount", "credit", "debit"),),
        finish=lambda r: _finish(r, seen),
        key=lambda row: row["natural_key"],
    )


# Upsert a batch of statement lines by natural key.
apply = stamped_upsert(BankDeposit.__table__, "natural_key")


@dataclass(frozen=True)
class BankImporter(Importer):
    """The bank importer: a fresh schema (and occurrence counter) for every file."""

    def run(self, session: Any, source: Source, **options: Any) -> ImportResult:
        """Import `source` in the caller's transaction."""
        return run_import(session, source, schema(), self.apply, **options)


BANK = BankImporter(
    name="bank",
    title="Bank statement",
    description=(
        "One row per bank statement line: date, amount (or credit / debit columns), currency, "
        "description and reference (the payout's trace id when the bank shows it)."
    ),
    schema=schema(),
    apply=apply,
)
