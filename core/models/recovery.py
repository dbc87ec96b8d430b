"""Failed-payment recovery: one case per invoice, its timeline and its message drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, JSONType, UTCDateTime, utcnow


class RecoveryCase(Base):
    """One unpaid invoice being recovered: open → recovered | lost."""

    __tablename__ = "recovery_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(String(255), unique=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    customer_id: Mapped[str | None] = mapped_column(String(255))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_name: Mapped[str | None] = mapped_column(String(255))
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    charge_id: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    amount_due: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_remaining: Mapped[int] = mapped_column(BigInteger, default=0)
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    bucket: Mapped[str] = mapped_column(String(32), default="needs_review")
    raw_code: Mapped[str | None] = mapped_column(String(64))
    decline: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_signals: Mapped[list[str]] = mapped_column(JSONType, default=list)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_payment_attempt: Mapped[int | None] = mapped_column(BigInteger)
    # Stripe `created` of the first failure and of the newest event applied: an older event
    # arriving late never overwrites what a newer one set.
    first_failed_at: Mapped[int] = mapped_column(BigInteger)
    last_event_created: Mapped[int] = mapped_column(BigInteger)
    segment: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(255))
    assigned_to: Mapped[str | None] = mapped_column(String(255))  # who works the case (desk)
    customer_value: Mapped[int | None] = mapped_column(BigInteger)  # MRR, minor units
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    route: Mapped[str] = mapped_column(String(32), default="finance")
    recommended_action: Mapped[str] = mapped_column(String(64), default="")
    tone: Mapped[str] = mapped_column(String(32), default="friendly")
    in_grace_period: Mapped[bool] = mapped_column(Boolean, default=False)
    missing_context: Mapped[list[str]] = mapped_column(JSONType, default=list)
    rule_hits: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    closed_reason: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[int | None] = mapped_column(BigInteger)
    recovered_amount: Mapped[int | None] = mapped_column(BigInteger)
    seconds_to_recover: Mapped[int | None] = mapped_column(BigInteger)
    last_message_attempt: Mapped[int | None] = mapped_column(Integer)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_recovery_cases_status_priority", "status", "priority"),
        Index("ix_recovery_cases_bucket", "bucket"),
        Index("ix_recovery_cases_customer_id", "customer_id"),
        Index("ix_recovery_cases_subscription_id", "subscription_id"),
        Index("ix_recovery_cases_first_failed_at", "first_failed_at"),
    )


class RecoveryTimelineEntry(Base):
    """Something that happened to a case: a failed attempt, a payment, a draft, a request."""

    __tablename__ = "recovery_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("recovery_cases.id", ondelete="CASCADE"))
    # The Stripe event (or internal key) that caused the entry: re-processing adds nothing.
    source_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    __table_args__ = (
        UniqueConstraint("case_id", "source_key", name="uq_recovery_timeline_case_id_source_key"),
    )


class RecoveryDraft(Base):
    """A customer message or CSM task drafted for one case and attempt."""

    __tablename__ = "recovery_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Dunning drafts belong to a case; pre-dunning (card expiring) drafts only to a subscription.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("recovery_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="dunning")
    customer_id: Mapped[str | None] = mapped_column(String(255))
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    to_email: Mapped[str | None] = mapped_column(String(320))
    attempt: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[str] = mapped_column(String(128))
    template_version: Mapped[str] = mapped_column(String(32))
    tone: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # Everything the text was made from (facts, template, model) hashed: same inputs, no redo.
    inputs_hash: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str | None] = mapped_column(String(128))
    guard: Mapped[str] = mapped_column(String(255), default="template")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    action_request_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(255), default="system")
    edited_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_recovery_drafts_case_id_status", "case_id", "status"),
        Index("ix_recovery_drafts_kind_status", "kind", "status"),
    )
