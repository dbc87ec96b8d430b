"""Dispute deadlines: urgency bands, countdown text and reminder thresholds (pure).

Stripe's `evidence_details.due_by` is an instant (epoch seconds); 0 means no response is
possible. Remaining time and reminder thresholds are measured in elapsed seconds, so a
"24 h" reminder is exactly 86,400 s before the deadline even across a daylight-saving change;
only the *display* (local time, "today"/"tomorrow") uses the team's time zone calendar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

HOUR = 3600
DAY = 24 * HOUR


class Urgency(StrEnum):
    """How pressing a dispute's deadline is, most urgent first."""

    past_due = "past_due"
    critical = "critical"
    urgent = "urgent"
    soon = "soon"
    normal = "normal"
    answered = "answered"
    no_response = "no_response"


URGENCY_ORDER = {u: i for i, u in enumerate(Urgency)}
URGENCY_COLOURS = {
    Urgency.past_due: "#7f1d1d",
    Urgency.critical: "#dc2626",
    Urgency.urgent: "#f97316",
    Urgency.soon: "#eab308",
    Urgency.normal: "#16a34a",
    Urgency.answered: "#64748b",
    Urgency.no_response: "#94a3b8",
}

# (upper bound of remaining seconds, band): the first bound the remaining time is under wins.
DEFAULT_BANDS: tuple[tuple[int, Urgency], ...] = (
    (24 * HOUR, Urgency.critical),
    (72 * HOUR, Urgency.urgent),
    (7 * DAY, Urgency.soon),
)


@dataclass(frozen=True)
class ReminderThreshold:
    """A reminder sent `seconds` before the deadline, named by `label` (e.g. "24h")."""

    label: str
    seconds: int


DEFAULT_THRESHOLDS: tuple[ReminderThreshold, ...] = (
    ReminderThreshold("7d", 7 * DAY),
    ReminderThreshold("3d", 3 * DAY),
    ReminderThreshold("24h", 24 * HOUR),
    ReminderThreshold("12h", 12 * HOUR),
)


def parse_duration(text: str) -> int:
    """'7d', '24h', '30m' or '90s' → seconds (policy files use this notation)."""
    text = text.strip().lower()
    units = {"d": DAY, "h": HOUR, "m": 60, "s": 1}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"{text!r} is not a duration such as 7d, 24h or 30m")
    return int(text[:-1]) * units[text[-1]]


def thresholds_from(labels: Iterable[str]) -> tuple[ReminderThreshold, ...]:
    """Reminder thresholds from labels like ['7d', '3d', '24h', '12h'], widest first."""
    items = {ReminderThreshold(label.strip(), parse_duration(label)) for label in labels}
    return tuple(sorted(items, key=lambda t: -t.seconds))


def seconds_left(due_by: int | None, now: int) -> int | None:
    """Seconds until the deadline (negative when past); None when no response is possible."""
    if not due_by:
        return None
    return int(due_by) - int(now)


def urgency(
    due_by: int | None,
    now: int,
    *,
    answered: bool = False,
    bands: Sequence[tuple[int, Urgency]] = DEFAULT_BANDS,
) -> Urgency:
    """The urgency band for a deadline; `answered` means evidence is in or the case is closed."""
    if answered:
        return Urgency.answered
    left = seconds_left(due_by, now)
    if left is None:
        return Urgency.no_response
    if left <= 0:
        return Urgency.past_due
    for bound, band in sorted(bands, key=lambda b: b[0]):
        if left < bound:
            return band
    return Urgency.normal


def countdown_text(due_by: int | None, now: int) -> str:
    """A short countdown: '2 d 4 h left', '5 h 12 min left', 'overdue by 3 h'."""
    left = seconds_left(due_by, now)
    if left is None:
        return "no response possible"
    span = _span(abs(left))
    return f"overdue by {span}" if left <= 0 else f"{span} left"


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def local_deadline(due_by: int, tz: str | ZoneInfo) -> datetime:
    """The deadline as an aware datetime in the team's time zone."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return datetime.fromtimestamp(int(due_by), UTC).astimezone(zone)


def deadline_text(due_by: int | None, now: int, tz: str | ZoneInfo) -> str:
    """'today 17:00 CEST', 'tomorrow 09:00 CET' or 'Mon 30 Mar 2026 01:59 CEST' in the team zone."""
    if not due_by:
        return "no response possible"
    when = local_deadline(due_by, tz)
    today = local_deadline(now, tz).date()
    clock = when.strftime("%H:%M %Z")
    delta = (when.date() - today).days  # calendar days in the team zone, DST-aware
    if delta == 0:
        return f"today {clock}"
    if delta == 1:
        return f"tomorrow {clock}"
    if delta == -1:
        return f"yesterday {clock}"
    return when.strftime("%a %d %b %Y %H:%M %Z")


def reminder_due(
    due_by: int | None,
    now: int,
    already_sent: Iterable[str],
    *,
    answered: bool = False,
    thresholds: Sequence[ReminderThreshold] = DEFAULT_THRESHOLDS,
) -> ReminderThreshold | None:
    """The reminder to send now, if any.

    Only the tightest threshold already crossed is sent: a dispute that arrives two days before
    its deadline gets the 3 d reminder once, not the 7 d and 3 d ones together. Nothing after
    the deadline, for an answered or closed dispute, or when no response is possible.
    """
    left = seconds_left(due_by, now)
    if answered or left is None or left <= 0:
        return None
    crossed = [t for t in thresholds if left <= t.seconds]
    if not crossed:
        return None
    tightest = min(crossed, key=lambda t: t.seconds)
    return None if tightest.label in set(already_sent) else tightest


def next_reminder_at(
    due_by: int | None,
    now: int,
    *,
    thresholds: Sequence[ReminderThreshold] = DEFAULT_THRESHOLDS,
) -> int | None:
    """Epoch second of the next threshold still ahead, for display; None when none remain."""
    if not due_by:
        return None
    ahead = [due_by - t.seconds for t in thresholds if due_by - t.seconds > now]
    return min(ahead) if ahead else None
