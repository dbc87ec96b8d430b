"""Dispute triage: one case per dispute, reminders sent, imported proof and staged packets."""

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
    and_,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, JSONType, UTCDateTime, utcnow


class DisputeCase(Base):
    """One Stripe dispute (inquiry or chargeback) as the team works it."""

    __tablename__ = "dispute_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    charge_id: Mapped[str | None] = mapped_column(String(255))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    customer_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    case_type: Mapped[str] = mapped_column(String(32), default="chargeback")
    network_reason_code: Mapped[str | None] = mapped_column(String(32))
    due_by: Mapped[int | None] = mapped_column(BigInteger)  # epoch seconds; 0 = no response
    has_evidence: Mapped[bool] = mapped_column(Boolean, default=False)
    submission_count: Mapped[int] = mapped_column(Integer, default=0)
    is_charge_refundable: Mapped[bool] = mapped_column(Boolean, default=False)
    stripe_created: Mapped[int] = mapped_column(BigInteger)
    # `created` of the event that last updated the case: an older event never overwrites it.
    source_created: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amount_withdrawn: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_reinstated: Mapped[int] = mapped_column(BigInteger, default=0)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_reinstated: Mapped[int] = mapped_column(BigInteger, default=0)
    owner: Mapped[str | None] = mapped_column(String(320))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    priority_explanation: Mapped[list[str]] = mapped_column(JSONType, default=list)
    win_chance: Mapped[float] = mapped_column(Float, default=0.0)
    expected_value: Mapped[int | None] = mapped_column(BigInteger)
    recommendation: Mapped[str | None] = mapped_column(String(16))
    recommendation_explanation: Mapped[list[str]] = mapped_column(JSONType, default=list)
    evidence_completeness: Mapped[float] = mapped_column(Float, default=0.0)
    rule_id: Mapped[str | None] = mapped_column(String(64))
    policy_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_dispute_cases_status_due_by", "status", "due_by"),
        Index("ix_dispute_cases_charge_id", "charge_id"),
        Index("ix_dispute_cases_customer_id", "customer_id"),
    )

    @property
    def answered(self) -> bool:
        """Evidence is in for the current stage or the case is decided: no more reminders, no
        more submissions."""
        return is_answered(self.status, self.submission_count)

    @property
    def is_appeal(self) -> bool:
        """The dispute is in its appeal stage (a second response after a decision)."""
        return self.status in APPEAL_STATUSES


OPEN_STATUSES = frozenset({"needs_response", "warning_needs_response", "appeal_needs_response"})
CLOSED_STATUSES = frozenset({"won", "lost", "warning_closed", "prevented"})
APPEAL_STATUSES = frozenset({"appeal_needs_response", "appeal_under_review"})
APPEAL_OPEN = "appeal_needs_response"


def submissions_before(status: str | None) -> int:
    """Submissions a dispute already has when its current stage opens: an appeal follows the
    first response, so `submission_count` 1 does not mean the appeal is answered."""
    return 1 if status == APPEAL_OPEN else 0


def is_answered(status: str | None, submission_count: int | None) -> bool:
    """No response is awaited: the stage's evidence is in, or the dispute is not open."""
    return status not in OPEN_STATUSES or int(submission_count or 0) > submissions_before(status)


def awaiting_response() -> Any:
    """SQL condition for cases still awaiting a response (the query form of `is_answered`)."""
    return or_(
        and_(DisputeCase.status == APPEAL_OPEN, DisputeCase.submission_count <= 1),
        and_(
            DisputeCase.status.in_(OPEN_STATUSES - {APPEAL_OPEN}),
            DisputeCase.submission_count == 0,
        ),
    )


class DisputeReminder(Base):
    """A deadline reminder sent for one dispute and threshold; the unique key makes it once."""

    __tablename__ = "dispute_reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dispute_cases.id", ondelete="CASCADE"))
    threshold: Mapped[str] = mapped_column(String(16))  # "7d", "3d", "24h", "12h", "escalation"
    due_by: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("case_id", "threshold", name="uq_dispute_reminders_case_threshold"),
    )


class EvidenceItem(Base):
    """Evidence an operator added to a case by hand (a text for a field, or an uploaded file)."""

    __tablename__ = "dispute_evidence_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dispute_cases.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(
        String(255)
    )  # Stripe file (purpose dispute_evidence)
    added_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_dispute_evidence_items_case_id", "case_id"),)


class UsageRecord(Base):
    """One usage or access log line for a customer, imported from the product's CSV export."""

    __tablename__ = "usage_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    natural_key: Mapped[str] = mapped_column(String(400), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activity: Mapped[str] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_usage_records_stripe_customer_id", "stripe_customer_id"),
        Index("ix_usage_records_email", "email"),
    )


class ShipmentRecord(Base):
    """One shipment with its carrier and tracking number, imported from a CSV export."""

    __tablename__ = "shipment_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    natural_key: Mapped[str] = mapped_column(String(400), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    charge_id: Mapped[str | None] = mapped_column(String(255))
    order_ref: Mapped[str | None] = mapped_column(String(255))
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(255))
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipping_address: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_shipment_records_stripe_customer_id", "stripe_customer_id"),
        Index("ix_shipment_records_charge_id", "charge_id"),
        Index("ix_shipment_records_email", "email"),
    )


class EvidencePacket(Base):
    """A built evidence packet (versioned per case); staged to Stripe with submit=false."""

    __tablename__ = "dispute_evidence_packets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dispute_cases.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    missing: Mapped[list[str]] = mapped_column(JSONType, default=list)
    text_chars: Mapped[int] = mapped_column(Integer)
    template_id: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(64))  # set when the narrative was rephrased
    # The narrative's record: template or guarded AI rephrasing, guard verdict, model, tokens,
    # cost and inputs hash (the same inputs are never sent to the model twice).
    narrative: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    inputs_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    staged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    staged_by: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("case_id", "version", name="uq_dispute_evidence_packets_case_version"),
    )
