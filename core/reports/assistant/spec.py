"""What a tool is: its name, what it does, the JSON schema of its parameters, who may call it.

Parameters are checked in code against the same schema the model is shown (jsonschema): a wrong
argument comes back to the model as one line saying what to fix, never as a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from core.config import Settings
from core.governance.auth import Actor, has_role
from core.money import ZERO_DECIMAL, to_major

MAX_ROWS = 50
DEFAULT_ROWS = 20
PERIODS = ("today", "this_week", "this_month", "last_7_days", "last_30_days", "all")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class ToolRefused(Exception):
    """A call the desk does not run: unknown tool, a role that may not, bad arguments."""


@dataclass(frozen=True)
class Context:
    """What every tool gets: the database session, settings, the caller, the session ref, now."""

    session: Session
    settings: Settings
    actor: Actor
    ref: str
    now: datetime

    @property
    def today(self) -> date:
        """Today in the team's time zone."""
        return self.now.astimezone(self.settings.tz).date()

    def day_start(self, day: date) -> int:
        """Epoch seconds of the start of `day` in the team's time zone."""
        return int(datetime(day.year, day.month, day.day, tzinfo=self.settings.tz).timestamp())


@dataclass(frozen=True)
class Result:
    """A tool's answer: plain data rows and the records they came from (kind, id)."""

    rows: list[dict[str, Any]]
    records: list[dict[str, str]]
    note: str = ""
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class Tool:
    """One tool the model may call."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[Context, dict[str, Any]], Result]
    roles: tuple[str, ...] = ("viewer",)  # the lowest role that may call it (and those above)
    proposes: bool = False

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-calling definition."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def allowed(self, actor: Actor) -> bool:
        """Whether the caller's role may call this tool."""
        return has_role(actor, *self.roles)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments checked against the schema; ToolRefused says what to fix."""
        validator = Draft202012Validator(self.parameters)
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = ".".join(str(p) for p in first.path) or "arguments"
            raise ToolRefused(f"Invalid {where} for {self.name}: {first.message}.")
        return dict(arguments)


def params(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A strict object schema: no extra properties."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


LIMIT = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_ROWS,
    "description": f"Most rows to return (default {DEFAULT_ROWS}, at most {MAX_ROWS}).",
}
PERIOD = {
    "type": "string",
    "enum": list(PERIODS),
    "description": "Time window in the team's time zone.",
}


def period_start(ctx: Context, period: str) -> int | None:
    """Epoch seconds where the period starts (None: all time)."""
    today = ctx.today
    start = {
        "today": today,
        "this_week": today - timedelta(days=today.weekday()),
        "this_month": today.replace(day=1),
        "last_7_days": today - timedelta(days=6),
        "last_30_days": today - timedelta(days=29),
    }.get(period)
    return None if start is None else ctx.day_start(start)


def since_day(ctx: Context, since: str) -> date:
    """A weekday name (the latest one on or before today) or an ISO date."""
    word = since.strip().lower()
    if word in WEEKDAYS:
        back = (ctx.today.weekday() - WEEKDAYS.index(word)) % 7
        return ctx.today - timedelta(days=back)
    if word == "yesterday":
        return ctx.today - timedelta(days=1)
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise ToolRefused(
            f"Invalid since: {since!r} is neither a weekday name nor a date like 2026-11-30."
        ) from None


def money(amount: int | None, currency: str | None) -> dict[str, Any] | None:
    """Minor units as {amount (major units, the currency's exponent), currency}."""
    if amount is None or not currency:
        return None
    cur = currency.lower()
    major = to_major(int(amount), cur)
    return {"amount": int(major) if cur in ZERO_DECIMAL else round(major, 2), "currency": cur}


def iso(epoch: int | None, ctx: Context) -> str | None:
    """Epoch seconds as an ISO time in the team's zone."""
    if not epoch:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).astimezone(ctx.settings.tz).isoformat()


def limit_of(arguments: dict[str, Any]) -> int:
    """The row limit asked for, within bounds."""
    return max(1, min(int(arguments.get("limit") or DEFAULT_ROWS), MAX_ROWS))
