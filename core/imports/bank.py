"""Bank statement lines from a CSV export (most banks, Xero/QuickBooks bank exports, sheets).

CSV only: OFX would need an extra parser dependency for a format most banks also export as CSV.
A statement has either one signed amount column or separate credit / debit columns. Each
statement belongs to one Stripe account, the one whose payouts reach that bank account: the
platform unless the import names a connected account (or the file has a Stripe Account column),
because each connected account is paid out to its own bank. Lines
without a bank transaction id are keyed by date, amount, reference and their occurrence in the
file, so two identical deposits on one day stay two rows and a re-import updates instead of
duplicating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InputError
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
    Field("stripe_account", ("Stripe Account", "Stripe Account ID", "Connected Account")),
)

PLATFORM_NAMES = ("", "platform")


def stripe_account(value: str | None) -> str:
    """The account a statement belongs to: "" for the platform, else a connected `acct_…` id."""
    text = (value or "").strip()
    if text.lower() in PLATFORM_NAMES:
        return ""
    if not text.startswith("acct_") or not text[5:].replace("_", "").isalnum():
        raise ValueError(
            f"Stripe account {text!r} is not an account id such as acct_1A2b3C (or platform)"
        )
    return text


def _finish(record: dict[str, Any], seen: dict[str, int], account: str) -> dict[str, Any]:
    if record["stripe_account"]:
        named = stripe_account(record["stripe_account"])
        if account and named != account:
            raise ValueError(
                f"this line is for Stripe account {named or 'platform'}, but the statement is "
                f"imported for {account}"
            )
        account = named
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
        key = f"{base}|{seen[base]}"
    return {
        # The platform keeps the keys it always had; another account's lines carry its id.
        "natural_key": (f"{account}|{key}" if account else key)[:320],
        "account": account,
        "bank_account": record["bank_account"],
        "posted_on": record["posted_on"],
        "amount": amount,
        "currency": currency,
        "description": record["description"],
        "reference": ref or None,
    }


def schema(account: str = "") -> CsvSchema:
    """A fresh schema for one account's statement: occurrence counting is per file."""
    seen: dict[str, int] = {}
    return CsvSchema(
        name="bank statement",
        fields=FIELDS,
        require_one_of=(("amount", "credit", "debit"),),
        finish=lambda r: _finish(r, seen, account),
        key=lambda row: row["natural_key"],
    )


# Upsert a batch of statement lines by natural key.
apply = stamped_upsert(BankDeposit.__table__, "natural_key")


@dataclass(frozen=True)
class BankImporter(Importer):
    """The bank importer: a fresh schema (and occurrence counter) for every file."""

    def run(
        self, session: Any, source: Source, *, account: str | None = None, **options: Any
    ) -> ImportResult:
        """Import `source` in the caller's transaction as `account`'s statement (platform: "")."""
        try:
            owner = stripe_account(account)
        except ValueError as exc:
            raise InputError(f"{exc}.") from None
        return run_import(session, source, schema(owner), self.apply, **options)


BANK = BankImporter(
    name="bank",
    title="Bank statement",
    description=(
        "One row per bank statement line: date, amount (or credit / debit columns), currency, "
        "description and reference (the payout's trace id when the bank shows it). A statement "
        "belongs to the platform unless it names the connected account it is for."
    ),
    schema=schema(),
    apply=apply,
)
