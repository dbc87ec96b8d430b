"""Money in minor units: formatting and zero-decimal currencies."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from core.errors import InputError

ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
}  # fmt: skip
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}


def exponent(currency: str) -> int:
    """Digits after the decimal point of the currency's major unit (2 for usd, 0 for jpy)."""
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def to_major(amount: int, currency: str) -> float:
    """Minor units to a decimal amount (1999 usd → 19.99)."""
    return amount if currency.lower() in ZERO_DECIMAL else amount / 100


def to_minor(value: float | int | str, currency: str) -> int:
    """A decimal amount typed by a person to minor units (19.99 usd → 1999); too many decimals,
    a negative or a non-number is refused with what to type instead."""
    places = exponent(currency)
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise InputError(f"{value!r} is not an amount; type e.g. 19.99.") from None
    if not number.is_finite() or number < 0:
        raise InputError(f"{value} is not an amount; type a positive number, e.g. 19.99.")
    minor = number.scaleb(places)
    if minor != minor.to_integral_value():
        raise InputError(
            f"{currency.upper()} amounts have {places} decimal places at most; {value} has more."
        )
    return int(minor)


def excel_number_format(currency: str) -> str:
    """A spreadsheet number format for major units: '"$"#,##0.00' or '#,##0" JPY"'."""
    cur = currency.lower()
    digits = exponent(cur)
    number = "#,##0" + ("." + "0" * digits if digits else "")
    symbol = SYMBOLS.get(cur)
    if symbol:
        return f'"{symbol}"{number};-"{symbol}"{number}'
    return f'{number}" {cur.upper()}";-{number}" {cur.upper()}"'


def format_money(amount: int | None, currency: str | None) -> str:
    """A readable amount with its currency, e.g. "$1,234.50" or "12,000 JPY"; "—" when unknown."""
    if amount is None or not currency:
        return "—"
    cur = currency.lower()
    value = to_major(amount, cur)
    text = f"{value:,.0f}" if cur in ZERO_DECIMAL else f"{value:,.2f}"
    sign = "-" if value < 0 else ""
    text = text.lstrip("-")
    symbol = SYMBOLS.get(cur)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {cur.upper()}"
