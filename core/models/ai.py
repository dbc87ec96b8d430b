"""The model's footprint: every call booked against the day's budget, and the briefs it wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, JSONType, UTCDateTime, utcnow


class AiUsage(Base):
    """One call to the model (or one refused for the budget): who, what for, tokens and cost."""

    __tablename__ = "ai_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the team's calendar day (TEAM_TIMEZONE) the call counts against, as YYYY-MM-DD
    day: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(32))  # brief | assistant | draft | narrative
    actor: Mapped[str | None] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(128), default="")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome: Mapped[str] = mapped_column(String(32), default="ok")  # ok | rejected | failed
    ref: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_ai_usage_day", "day"),)


class Brief(Base):
    """A few sentences for the person who decides on a case, a dispute or a request.

    Kept per inputs hash: the same facts never pay for a second brief.
    """

    __tablename__ = "ai_briefs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_kind: Mapped[str] = mapped_column(String(32))  # recovery_case | dispute | request
    subject_id: Mapped[str] = mapped_column(String(255))
    inputs_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source: Mapped[str] = mapped_column(String(16), default="template")  # template | model
    model: Mapped[str | None] = mapped_column(String(128))
    guard: Mapped[str] = mapped_column(String(255), default="template")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "subject_kind", "subject_id", "inputs_hash", name="uq_ai_briefs_subject_inputs"
        ),
        Index("ix_ai_briefs_subject", "subject_kind", "subject_id"),
    )
