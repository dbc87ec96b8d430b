"""Spreadsheet cells that stay data: every CSV, XLSX and PDF the desk writes goes through here.

Excel, LibreOffice and Google Sheets run a cell whose text starts with `=`, `+`, `-` or `@` as a
formula (`=HYPERLINK(...)`, `@SUM(...)|cmd`), and some also after a tab, a carriage return or
leading spaces. Text from Stripe, the CRM, the help desk or a bank statement is not ours, so a
text cell that would start a formula gets a leading apostrophe (OWASP's advice for CSV
injection): the spreadsheet shows the text instead of running it. Real numbers (ints, floats,
decimals, and text that is just a plain number such as "-12.50") stay numbers.

The same text goes into every format, so a file saved again as CSV from Excel stays inert.
"""

from __future__ import annotations

import json
import numbers
import re
from typing import Any

# What a spreadsheet treats as the start of a formula (full-width forms: some locales' input).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_LEADING_SPACE = " \t\r\n\u00a0\u3000"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(,\d{3})*|\d*)(\.\d+)?([eE][+-]?\d+)?")


def is_live(text: str) -> bool:
    """Whether a spreadsheet could run this text as a formula."""
    if not text:
        return False
    if text[0] in FORMULA_STARTS:
        return not _is_plain_number(text)
    stripped = text.lstrip(_LEADING_SPACE)
    return stripped != text and stripped[:1] in FORMULA_STARTS


def _is_plain_number(text: str) -> bool:
    return any(ch.isdigit() for ch in text) and _PLAIN_NUMBER.fullmatch(text) is not None


def neutralise_text(text: str) -> str:
    """The text with a leading apostrophe when a spreadsheet would run it, else unchanged."""
    return "'" + text if is_live(text) else text


def neutralise(value: Any) -> Any:
    """A cell value safe to write: numbers, dates and empties as they are, text neutralised."""
    if isinstance(value, str):
        return neutralise_text(value)
    if isinstance(value, dict | list | tuple):
        return neutralise_text(json.dumps(value, sort_keys=True, default=str))
    if value is None or isinstance(value, numbers.Number) or hasattr(value, "isoformat"):
        return value  # numbers (numpy's too), dates, datetimes, timestamps
    return neutralise_text(str(value))
