"""Payouts vs imported bank deposits: load both sides from the store and match them per account."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.books.bank_matching import (
    BankMatching,
    Deposit,
    PayoutInfo,
    limit_to_period,
    match_accounts,
)
from core.books.data import objects_of_type
from core.models.books import BankDeposit, PayoutReconciliation
from core.models.sync import Event, StripeObject


def payout_infos(session: Session, account: str | None = None) -> list[PayoutInfo]:
    """Every stored payout in the shape matching needs (paid-then-failed flagged)."""
    paid_before = set(
        session.scalars(
            select(PayoutReconciliation.payout_id).where(PayoutReconciliation.was_paid.is_(True))
        )
    ) | set(session.scalars(select(Event.object_id).where(Event.type == "payout.paid")))
    out = []
    for p in objects_of_type(session, "payout", account):
        trace = p.get("trace_id")
        arrival = p.get("arrival_date") or p.get("created")
        out.append(
            PayoutInfo(
                id=p["id"],
                arrival_on=datetime.fromtimestamp(int(arrival or 0), UTC).date(),
                amount=int(p.get("amount") or 0),
                currency=str(p.get("currency") or "usd"),
                status=str(p.get("status") or "unknown"),
                automatic=bool(p.get("automatic", True)),
                trace_id=(trace.get("value") if isinstance(trace, dict) else trace) or None,
                failed_after_paid=p.get("status") == "failed" and p["id"] in paid_before,
                account=p["_account"] or "",
            )
        )
    return out


def bank_deposits(
    session: Session, date_from: date | None = None, date_to: date | None = None
) -> list[Deposit]:
    """Imported statement lines as plain deposits."""
    stmt = select(BankDeposit).order_by(BankDeposit.posted_on, BankDeposit.id)
    if date_from:
        stmt = stmt.where(BankDeposit.posted_on >= date_from)
    if date_to:
        stmt = stmt.where(BankDeposit.posted_on <= date_to)
    return [
        Deposit(
            str(d.id),
            d.posted_on,
            d.amount,
            d.currency,
            d.description or "",
            d.reference or "",
            d.account or "",
        )
        for d in session.scalars(stmt)
    ]


def statement_accounts(session: Session) -> set[str]:
    """The Stripe accounts with a bank statement imported ("" = platform)."""
    return {a or "" for a in session.scalars(select(BankDeposit.account).distinct())}


def payout_accounts(session: Session) -> list[str]:
    """The accounts with payouts in the store, platform ("") first: whose statements to import."""
    stmt = select(StripeObject.account).where(StripeObject.object_type == "payout").distinct()
    return sorted({"", *(a or "" for a in session.scalars(stmt))})


def match_bank(
    session: Session,
    date_from: date | None = None,
    date_to: date | None = None,
    today: date | None = None,
) -> BankMatching:
    """Match each account's payouts to its own statement's deposits, then keep what belongs to
    the period: pairs and unmatched payouts by arrival date, deposits by the day posted.

    Every payout and deposit takes part in the matching (a few hundred a year per account), so
    a deposit at the edge of the period finds its payout on the other side of the edge.
    """
    today = today or datetime.now(UTC).date()
    payouts = payout_infos(session)
    matching = match_accounts(bank_deposits(session), payouts, today, statement_accounts(session))
    return limit_to_period(matching, payouts, date_from, date_to)
