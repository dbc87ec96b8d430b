"""Journal batches in the import formats of QuickBooks Online, Xero and NetSuite (CSV).

Pure: plain `ExportEntry` values in, CSV text out. Column names follow each product's own import
template: QBO "Import journal entries" (Journal No, Journal Date, Account Name, Debits, Credits,
Description, Name, Currency Code), Xero "Manual journals" (*Narration, *Date, Description,
*AccountCode, *TaxRate, *Amount — positive debits, negative credits), NetSuite "Journal Entry"
CSV import (External ID, Date, Currency, Memo, Account, Debit, Credit, Line Memo, Name).
Amounts are in the balance currency; where Stripe converted, the original currency and the rate
go into the line description, since each product's own exchange rate is to its home currency.
Text that a spreadsheet would run as a formula is neutralised (core.adapters.cells); amounts are
plain numbers and stay as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from core.adapters.cells import neutralise_text
from core.money import ZERO_DECIMAL

FORMATS = ("qbo", "xero", "netsuite")
FORMAT_TITLES = {"qbo": "QuickBooks Online", "xero": "Xero", "netsuite": "NetSuite"}


@dataclass(frozen=True)
class ExportLine:
    """One line as the accounting system imports it."""

    account_code: str
    account_name: str
    debit: int
    credit: int
    description: str


@dataclass(frozen=True)
class ExportEntry:
    """One journal to import: its number, date, currency and lines."""

    number: str
    entry_date: date
    currency: str
    description: str
    lines: tuple[ExportLine, ...]
    exchange_rate: float | None = None
    original_currency: str | None = None
    original_amount: int | None = None


def major(amount: int, currency: str) -> str:
    """Minor units as a plain decimal string: 123456 usd → "1234.56" (exact, no float)."""
    if currency.lower() in ZERO_DECIMAL:
        return str(amount)
    return f"{Decimal(amount).scaleb(-2):.2f}"


def _memo(entry: ExportEntry, line: ExportLine) -> str:
    text = line.description
    if entry.exchange_rate and entry.original_currency:
        orig = ""
        if entry.original_amount is not None:
            orig = f" {major(entry.original_amount, entry.original_currency)}"
        text += f" ({entry.original_currency.upper()}{orig} @ {entry.exchange_rate:g})"
    return text


def _amount(value: int, currency: str) -> str:
    return major(value, currency) if value else ""


def _qbo(entries: Sequence[ExportEntry], w: csv.DictWriter[str]) -> None:
    for e in entries:
        for ln in e.lines:
            w.writerow(
                {
                    "Journal No": e.number,
                    "Journal Date": e.entry_date.strftime("%m/%d/%Y"),
                    "Currency Code": e.currency.upper(),
                    "Account Name": ln.account_name,
                    "Debits": _amount(ln.debit, e.currency),
                    "Credits": _amount(ln.credit, e.currency),
                    "Description": _memo(e, ln),
                    "Name": "",
                }
            )


def _xero(entries: Sequence[ExportEntry], w: csv.DictWriter[str], tax_rate: str) -> None:
    for e in entries:
        for ln in e.lines:
            w.writerow(
                {
                    "*Narration": f"{e.number} {e.description}",
                    "*Date": e.entry_date.strftime("%d/%m/%Y"),
                    "Description": _memo(e, ln),
                    "*AccountCode": ln.account_code,
                    "*TaxRate": tax_rate,
                    "*Amount": major(ln.debit - ln.credit, e.currency),
                    "TrackingName1": "",
                    "TrackingOption1": "",
                }
            )


def _netsuite(entries: Sequence[ExportEntry], w: csv.DictWriter[str]) -> None:
    for e in entries:
        for ln in e.lines:
            w.writerow(
                {
                    "External ID": e.number,
                    "Date": e.entry_date.strftime("%m/%d/%Y"),
                    "Currency": e.currency.upper(),
                    "Memo": e.description,
                    "Account": f"{ln.account_code} {ln.account_name}",
                    "Debit": _amount(ln.debit, e.currency),
                    "Credit": _amount(ln.credit, e.currency),
                    "Line Memo": _memo(e, ln),
                    "Name": "",
                }
            )


class _SafeWriter(csv.DictWriter):  # type: ignore[type-arg]
    """A DictWriter whose every cell is neutralised (these files are opened in spreadsheets)."""

    def writerow(self, rowdict: Any) -> Any:
        return super().writerow({k: neutralise_text(str(v)) for k, v in rowdict.items()})


HEADERS = {
    "qbo": ["Journal No", "Journal Date", "Currency Code", "Account Name", "Debits", "Credits",
            "Description", "Name"],
    "xero": ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount",
             "TrackingName1", "TrackingOption1"],
    "netsuite": ["External ID", "Date", "Currency", "Memo", "Account", "Debit", "Credit",
                 "Line Memo", "Name"],
}  # fmt: skip


def render(entries: Sequence[ExportEntry], fmt: str, *, xero_tax_rate: str = "Tax Exempt") -> str:
    """CSV text of `entries` in format `fmt` (qbo, xero or netsuite)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown journal format {fmt!r}: choose one of {', '.join(FORMATS)}")
    for e in entries:  # an unbalanced journal is refused by every target: never write one
        if sum(ln.debit for ln in e.lines) != sum(ln.credit for ln in e.lines):
            raise ValueError(f"journal {e.number} does not balance")
    buf = io.StringIO()
    writer = _SafeWriter(buf, fieldnames=HEADERS[fmt], lineterminator="\r\n")
    writer.writeheader()
    if fmt == "qbo":
        _qbo(entries, writer)
    elif fmt == "xero":
        _xero(entries, writer, xero_tax_rate)
    else:
        _netsuite(entries, writer)
    return buf.getvalue()
