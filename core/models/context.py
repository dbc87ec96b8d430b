"""Context from outside Stripe: CRM accounts and help-desk tickets, imported from CSV."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, JSONType, UTCDateTime, utcnow


class CrmAccount(Base):
    """One customer account as the CRM knows it (the CRM owns ownership and segment)."""

    __tablename__ = "crm_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The Stripe customer id when the export has one, else "email:<address>".
    natural_key: Mapped[str] = mapped_column(String(320), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255))
    segment: Mapped[str | None] = mapped_column(String(64))
    arr: Mapped[int | None] = mapped_column(BigInteger)  # minor units per year
    mrr: Mapped[int | None] = mapped_column(BigInteger)  # minor units per month
    currency: Mapped[str | None] = mapped_column(String(3))
    renewal_date: Mapped[date | None] = mapped_column(Date)
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_crm_accounts_stripe_customer_id", "stripe_customer_id"),
        Index("ix_crm_accounts_email", "email"),
        Index("ix_crm_accounts_owner", "owner"),
        Index("ix_crm_accounts_segment", "segment"),
    )

    def as_context(self) -> dict[str, Any]:
        """Plain data for the pure rule modules."""
        return {
            "name": self.name,
            "owner": self.owner,
            "segment": self.segment,
            "arr": self.arr,
            "mrr": self.mrr,
            "currency": self.currency,
            "renewal_date": self.renewal_date,
            "flags": list(self.flags or []),
        }


class HelpdeskTicket(Base):
    """One help-desk ticket (the help desk owns the conversation; we keep the headline)."""

    __tablename__ = "helpdesk_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_helpdesk_tickets_stripe_customer_id", "stripe_customer_id"),
        Index("ix_helpdesk_tickets_email", "email"),
    )
