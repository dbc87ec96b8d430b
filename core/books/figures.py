"""The desk's headline figures, one definition each: every page, report, the digest and `status`
call these functions, so a figure reads the same wherever it is shown.

MRR
    Per currency, the monthly recurring amount of every live subscription (trialing, active or
    past due): each item's price × quantity, normalised to a month (a yearly price counts 1/12,
    a weekly one 52/12). Canceled, unpaid and incomplete subscriptions count nothing.

MRR at risk
    Per currency, the MRR (as above) of the live subscriptions whose payment is failing: Stripe
    marks the subscription past due, or a failed-payment case is open on one of its invoices.
    It is the subscription's monthly amount, not the invoice's or the CRM's, so it is a part of
    MRR and never more than it. Subscriptions set to cancel at the end of their period are not
    at risk of a failed payment: they are counted separately as "MRR set to cancel".

Unmatched bank deposits
    Per Stripe account (each pays out to its own bank account), the credits of an imported bank
    statement posted in the period that no Stripe payout matched. Matching considers every
    payout and deposit, so a deposit early in the period that carries a payout from just before
    it is matched, not unmatched. Withdrawals (debits) are not deposits. Without a chosen period
    the window is the last BANK_WINDOW_DAYS days up to today (the Bank tab, Drift, `status`).

Recovery rate
    Of the failed-payment cases whose first failure falls in the period, the share recovered
    (invoice paid). Open cases count as not (yet) recovered. Per bucket, template or week the
    same ratio is taken over that group's cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.books import queries as q
from core.books.bank_matching import BankMatching
from core.books.bank_reconciliation import match_bank
from core.config import Settings
from core.models.recovery import RecoveryCase
from core.models.sync import StripeObject

Amounts = dict[str, int]  # minor units per lower-case currency

BANK_WINDOW_DAYS = 90  # the bank figures' window when no period is chosen
AT_RISK_PAST_DUE = "past due"
AT_RISK_OPEN_CASE = "failed payment, case open"
SET_TO_CANCEL = "cancels at period end"


def team_today(settings: Settings) -> date:
    """Today in the team's time zone: the day every surface's default window ends on."""
    return datetime.now(UTC).astimezone(settings.tz).date()


def bank_window(today: date) -> tuple[date, date]:
    """The default period of the bank figures: the last BANK_WINDOW_DAYS days up to today."""
    return today - timedelta(days=BANK_WINDOW_DAYS - 1), today


def _open_case() -> Any:
    return (
        select(RecoveryCase.id)
        .where(RecoveryCase.subscription_id == StripeObject.id, RecoveryCase.status == "open")
        .exists()
    )


def subscription_rows() -> Any:
    """Subscription snapshots as (id, customer, status, currency, mrr, failing, cancels): the
    one place the figures' columns are written, as a subquery."""
    status = q.D["status"].as_string()
    failing = (status == "past_due") | _open_case()
    return (
        select(
            StripeObject.id.label("id"),
            q.customer_ref().label("customer"),
            status.label("status"),
            func.lower(func.coalesce(q.D["currency"].as_string(), "usd")).label("currency"),
            q.subscription_mrr_sql().label("mrr"),
            case((failing, 1), else_=0).label("failing"),
            case((q.D["cancel_at_period_end"].as_boolean().is_(True), 1), else_=0).label("cancels"),
        )
        .where(StripeObject.object_type == "subscription")
        .subquery("figure_subs")
    )


@dataclass
class MrrFigures:
    """MRR, MRR at risk and MRR set to cancel, per currency, and how many subscriptions."""

    mrr: Amounts = field(default_factory=dict)
    at_risk: Amounts = field(default_factory=dict)
    at_risk_count: int = 0
    set_to_cancel: Amounts = field(default_factory=dict)
    set_to_cancel_count: int = 0


def mrr_figures(session: Session) -> MrrFigures:
    """MRR, MRR at risk and MRR set to cancel in one pass over the subscriptions (SQL)."""
    s = subscription_rows()
    stmt = (
        select(s.c.currency, s.c.failing, s.c.cancels, func.count(), func.sum(s.c.mrr))
        .where(s.c.mrr > 0)
        .group_by(s.c.currency, s.c.failing, s.c.cancels)
    )
    out = MrrFigures()
    for cur, failing, cancels, n, total in session.execute(stmt):
        amount = int(total or 0)
        out.mrr[cur] = out.mrr.get(cur, 0) + amount
        if failing:
            out.at_risk[cur] = out.at_risk.get(cur, 0) + amount
            out.at_risk_count += int(n)
        elif cancels:  # failing wins: a subscription is counted in one of the two only
            out.set_to_cancel[cur] = out.set_to_cancel.get(cur, 0) + amount
            out.set_to_cancel_count += int(n)
    return out


def mrr(session: Session) -> Amounts:
    """MRR per currency (see the module docstring)."""
    return mrr_figures(session).mrr


def mrr_at_risk(session: Session) -> Amounts:
    """MRR at risk per currency (see the module docstring)."""
    return mrr_figures(session).at_risk


def at_risk_subscriptions(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """The largest subscriptions behind MRR at risk and MRR set to cancel, with why."""
    s = subscription_rows()
    stmt = (
        select(s.c.id, s.c.customer, s.c.status, s.c.currency, s.c.mrr, s.c.failing)
        .where(s.c.mrr > 0, (s.c.failing == 1) | (s.c.cancels == 1))
        .order_by(s.c.failing.desc(), s.c.mrr.desc(), s.c.id)
        .limit(limit)
    )
    out = []
    for sid, cust, status, cur, amount, failing in session.execute(stmt):
        why = SET_TO_CANCEL
        if failing:
            why = AT_RISK_PAST_DUE if status == "past_due" else AT_RISK_OPEN_CASE
        out.append(
            {"subscription": sid, "customer": cust, "mrr": int(amount), "currency": cur,
             "why": why}
        )  # fmt: skip
    return out


# --- bank ------------------------------------------------------------------------------------


def bank_period(
    date_from: date | None, date_to: date | None, today: date
) -> tuple[date | None, date | None]:
    """The period the bank figures cover: the chosen one, else the default window."""
    if date_from is None and date_to is None:
        return bank_window(today)
    return date_from, date_to


def bank_matching(
    session: Session,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    today: date,
) -> BankMatching:
    """Payouts matched to deposits, limited to the period (default: the bank window)."""
    start, end = bank_period(date_from, date_to, today)
    return match_bank(session, start, end, today=today)


def unmatched_deposits(
    session: Session,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    today: date,
) -> int:
    """How many bank deposits of the period no payout matched (see the module docstring)."""
    return len(bank_matching(session, date_from, date_to, today=today).unmatched_deposits)


# --- recovery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecoveryRate:
    """Cases opened in the period, how many were recovered, and the share (None: no cases)."""

    cases: int
    recovered: int

    @property
    def rate(self) -> float | None:
        """recovered ÷ cases, or None when no case was opened."""
        return ratio(self.recovered, self.cases)


def ratio(recovered: int, cases: int) -> float | None:
    """The recovery rate of a group of cases (the one formula every breakdown uses)."""
    return recovered / cases if cases else None


def recovery_rate(
    session: Session, start_epoch: int | None = None, end_epoch: int | None = None
) -> RecoveryRate:
    """Recovery rate of the cases whose first failure is in [start, end) (epoch seconds)."""
    c = RecoveryCase
    stmt = select(func.count(), func.sum(case((c.status == "recovered", 1), else_=0)))
    if start_epoch is not None:
        stmt = stmt.where(c.first_failed_at >= start_epoch)
    if end_epoch is not None:
        stmt = stmt.where(c.first_failed_at < end_epoch)
    n, recovered = session.execute(stmt).one()
    return RecoveryRate(int(n or 0), int(recovered or 0))
