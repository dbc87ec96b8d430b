"""One way to show numbers, money, times, Stripe ids and outside text on every page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.adapters.stripe_links import dashboard_url
from core.money import format_money

# The characters Markdown, GitHub's extensions and Streamlit give a meaning to, each escaped with
# a backslash: links, images, emphasis, code, headings, lists, tables, HTML, math (`$`),
# Streamlit's directives (`:green-badge[...]`, `:material/x:`, which Streamlit 1.67 still draws
# with only its colons escaped, hence `/` too) and emoji shortcodes. GFM's bare-URL links ("https://…",
# "www.…") are found in the text after escapes are resolved, so those two patterns get an
# invisible word joiner (U+2060) that keeps them from matching.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-./!|<>:~$])")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_BARE_URL = re.compile(r"(?i)(:(?=//)|\bwww(?=\.))")
WORD_JOINER = "\u2060"


def md_text(value: object) -> str:
    """Outside text (Stripe, CRM, help desk, CSV, people's reasons) made inert for Markdown.

    Use it for every value interpolated into st.markdown / caption / subheader / info / metric /
    expander labels / st.table cells: links, images, badges and headings show as typed.
    """
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    return _MD_SPECIAL.sub(r"\\\1", _BARE_URL.sub(r"\1" + WORD_JOINER, text))


def number(value: int | float | None) -> str:
    """A count with thousands separators; "—" when unknown."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def percent(share: float | None) -> str:
    """A share (0.25) as a whole percentage ("25%"); "—" when there is nothing to divide."""
    return "—" if share is None else f"{share:.0%}"


def money(amount: int | None, currency: str | None) -> str:
    """Minor units with their currency (core.money's format)."""
    return format_money(amount, currency)


def amounts(by_currency: Mapping[str, int], empty: str = "—") -> str:
    """Several currencies' totals on one line, largest first: "$1,200.00 · €80.00"."""
    parts = sorted(by_currency.items(), key=lambda kv: -abs(kv[1]))
    return " · ".join(format_money(v, c) for c, v in parts) or empty


def when(value: datetime | int | float | None, tz: ZoneInfo, *, seconds: bool = False) -> str:
    """A timestamp (aware datetime or epoch seconds) in the team's time zone."""
    if value is None or value == 0:
        return "—"
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    """A span for humans: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    if seconds is None:
        return "—"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def countdown(due_by: int | None, now: float) -> str:
    """Time left until an epoch deadline ("in 5 h 10 min"), or how late it is."""
    if not due_by:
        return "—"
    left = due_by - now
    return f"in {duration(left)}" if left >= 0 else f"{duration(-left)} late"


def stripe_url(object_id: str | None, mode: str, account: str = "") -> str | None:
    """The Stripe dashboard page of an id (None in sandbox mode or for unknown ids)."""
    return dashboard_url(object_id or "", mode=mode, account=account)


def stripe_link(object_id: str | None, mode: str, account: str = "") -> str:
    """Markdown for an id: a link to Stripe where there is one, else the id as code."""
    if not object_id:
        return "—"
    url = stripe_url(object_id, mode, account)
    return f"[`{object_id}`]({url})" if url else f"`{object_id}`"


def threshold_text(limit: int | None, by_currency: Mapping[str, int]) -> str:
    """A two-approver threshold in major units: '500.00 (any currency); ¥75,000; 700,000 KRW'."""
    if limit is None:
        return "—"
    base = f"{limit / 100:,.2f} (any currency)"
    others = [format_money(v, c) for c, v in sorted(by_currency.items())]
    return "; ".join([base, *others])


def segment(value: str | None) -> str:
    """A CRM segment code as words: 'mid_market' → 'Mid market' (typed names stay as typed)."""
    if not value:
        return "—"
    if value == value.lower() and " " not in value:
        words = re.sub(r"[_\-]+", " ", value).strip()
        return words[:1].upper() + words[1:] if words else value
    return value


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 invoice', '3 invoices' (the count with thousands separators)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def approval_outcome(action_id: int, status: str, given: int, required: int) -> str:
    """What an approver reads after approving: done, or how many approvals are still needed."""
    if status == "requested" and required > given:
        more = required - given
        return (
            f"Action #{action_id}: approved by {given} of {required}; "
            f"waiting for {plural(more, 'more approver')}."
        )
    return f"Action #{action_id} is now {status}."
