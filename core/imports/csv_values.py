"""Cell parsers for CSV imports: each takes a stripped, non-empty string and raises ValueError
with a message a person can act on (it becomes the row's error)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation


def parse_text(raw: str) -> str:
    """Text as given (already stripped)."""
    return raw


def parse_email(raw: str) -> str:
    """A lower-cased e-mail address."""
    value = raw.strip().lower()
    if "@" not in value or " " in value:
        raise ValueError(f"{raw!r} is not an e-mail address")
    return value


def parse_customer_id(raw: str) -> str:
    """A Stripe customer id (cus_...)."""
    if not re.fullmatch(r"cus_[A-Za-z0-9]+", raw):
        raise ValueError(f"{raw!r} is not a Stripe customer id (cus_...)")
    return raw


def parse_money(raw: str) -> int:
    """An amount such as "$1,234.50", "1.234,50 €" or "1200" to minor units (cents)."""
    text = re.sub(r"[^\d,.\-]", "", raw)
    if not re.search(r"\d", text):
        raise ValueError(f"{raw!r} is not an amount")
    if "," in text and "." in text:
        # The later separator is the decimal one: 1,234.50 vs 1.234,50.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        head, _, tail = text.rpartition(",")
        text = f"{head.replace(',', '')}.{tail}" if len(tail) in (1, 2) else text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not an amount") from None
    return int((value * 100).to_integral_value())


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%m/%d/%y",
    "%d %b %Y",
    "%b %d, %Y",
)
_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y %H:%M",
)


def parse_datetime(raw: str) -> datetime:
    """An ISO 8601, US or European timestamp (or epoch seconds), as UTC."""
    text = raw.strip()
    if re.fullmatch(r"\d{9,11}", text):
        return datetime.fromtimestamp(int(text), UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None:
        for fmt in _DATETIME_FORMATS + _DATE_FORMATS:
            try:
                value = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if value is None:
        raise ValueError(f"{raw!r} is not a date (use YYYY-MM-DD)")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_date(raw: str) -> date:
    """A calendar date in any format `parse_datetime` reads."""
    return parse_datetime(raw).date()


_TRUE = {"1", "true", "yes", "y", "x", "on", "checked"}
_FALSE = {"0", "false", "no", "n", "off", "", "-"}


def parse_bool(raw: str) -> bool:
    """yes/no, true/false, 1/0, x (a ticked box in a spreadsheet)."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not yes/no")


def parse_tags(raw: str) -> list[str]:
    """A list such as "vip; do not downgrade, enterprise" → normalised tags."""
    return [normalise_tag(t) for t in re.split(r"[;,|]", raw) if t.strip()]


def normalise_tag(text: str) -> str:
    """ "Do not downgrade" → "do_not_downgrade"."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
