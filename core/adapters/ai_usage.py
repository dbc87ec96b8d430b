"""The model's daily allowance: every call is booked, and none is made once the day is spent.

One ledger (`ai_usage`) for every purpose — briefs, the desk assistant, message rewrites and
dispute narratives — counted per calendar day in the team's time zone against
AI_DAILY_TOKEN_BUDGET and AI_DAILY_COST_BUDGET_USD. `ensure_allowance` is asked before a call;
`book` records what the call cost (or that it was refused or failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.adapters.llm import LlmReply
from core.config import Settings
from core.errors import AiBudgetSpent
from core.models.ai import AiUsage

PURPOSES = ("brief", "assistant", "draft", "narrative")


@dataclass(frozen=True)
class Allowance:
    """What today's budget allows and what was used of it."""

    day: str
    tokens_used: int
    tokens_limit: int
    cost_used_micro_usd: int
    cost_limit_micro_usd: int
    calls: int

    @property
    def spent(self) -> bool:
        """True once either the tokens or the cost reached the day's limit."""
        return (
            self.tokens_used >= self.tokens_limit
            or self.cost_used_micro_usd >= self.cost_limit_micro_usd
        )

    def sentence(self) -> str:
        """E.g. 'Today (2026-12-03): 12,400 of 200,000 tokens, $0.01 of $2.00, 31 calls.'"""
        return (
            f"Today ({self.day}): {self.tokens_used:,} of {self.tokens_limit:,} tokens, "
            f"${self.cost_used_micro_usd / 1e6:,.2f} of ${self.cost_limit_micro_usd / 1e6:,.2f}, "
            f"{self.calls:,} call{'s' if self.calls != 1 else ''}."
        )


def team_day(settings: Settings, now: datetime | None = None) -> str:
    """The team's calendar day for `now`, as YYYY-MM-DD."""
    return (now or datetime.now(UTC)).astimezone(settings.tz).date().isoformat()


def allowance(session: Session, settings: Settings, now: datetime | None = None) -> Allowance:
    """Today's use of the model against the budget."""
    day = team_day(settings, now)
    tokens, cost, calls = session.execute(
        select(
            func.coalesce(func.sum(AiUsage.prompt_tokens + AiUsage.completion_tokens), 0),
            func.coalesce(func.sum(AiUsage.cost_micro_usd), 0),
            func.count(AiUsage.id),
        ).where(AiUsage.day == day, AiUsage.outcome != "refused")
    ).one()
    return Allowance(
        day,
        int(tokens),
        settings.ai.daily_tokens,
        int(cost),
        round(settings.ai.daily_cost_usd * 1_000_000),
        int(calls),
    )


def ensure_allowance(session: Session, settings: Settings, now: datetime | None = None) -> None:
    """Raise AiBudgetSpent (an LlmUnavailable: callers fall back) when today's budget is used."""
    left = allowance(session, settings, now)
    if left.spent:
        raise AiBudgetSpent(
            f"The model budget for {left.day} is spent ({left.sentence()}): briefs use the "
            "templates and the assistant waits until tomorrow; an admin can raise "
            "AI_DAILY_TOKEN_BUDGET or AI_DAILY_COST_BUDGET_USD."
        )


def book(
    session: Session,
    settings: Settings,
    purpose: str,
    *,
    reply: LlmReply | None = None,
    actor: str | None = None,
    ref: str | None = None,
    outcome: str = "ok",
    now: datetime | None = None,
) -> AiUsage:
    """Record one call (its reply's tokens and cost), or one refused/failed attempt."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown model purpose {purpose!r}")
    row = AiUsage(
        at=now or datetime.now(UTC),
        day=team_day(settings, now),
        purpose=purpose,
        actor=actor,
        model=reply.model if reply else "",
        prompt_tokens=reply.prompt_tokens if reply else 0,
        completion_tokens=reply.completion_tokens if reply else 0,
        cost_micro_usd=reply.cost_micro_usd if reply else 0,
        outcome=outcome,
        ref=ref,
    )
    session.add(row)
    session.flush()
    return row


def usage_by_day(
    session: Session, settings: Settings, days: int = 14, now: datetime | None = None
) -> list[dict[str, object]]:
    """Per day and purpose over the last `days` days: calls, tokens, cost (for Users & policy)."""
    first = team_day(settings, (now or datetime.now(UTC)) - timedelta(days=days - 1))
    rows = session.execute(
        select(
            AiUsage.day,
            AiUsage.purpose,
            func.count(AiUsage.id),
            func.coalesce(func.sum(AiUsage.prompt_tokens + AiUsage.completion_tokens), 0),
            func.coalesce(func.sum(AiUsage.cost_micro_usd), 0),
        )
        .where(AiUsage.day >= first)
        .group_by(AiUsage.day, AiUsage.purpose)
        .order_by(AiUsage.day.desc(), AiUsage.purpose)
    ).all()
    return [
        {
            "day": day,
            "purpose": purpose,
            "calls": int(calls),
            "tokens": int(tokens),
            "cost_usd": round(int(cost) / 1_000_000, 4),
        }
        for day, purpose, calls, tokens, cost in rows
    ]
