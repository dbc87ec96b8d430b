"""Read models for the "Failed payments" page: the filtered, paged queue and one case's detail.

Filtering, ordering and paging happen in SQL (the queue stays fast with tens of thousands of
cases: `ix_recovery_cases_status_priority` serves the default view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models.context import CrmAccount, HelpdeskTicket
from core.models.recovery import RecoveryCase, RecoveryDraft, RecoveryTimelineEntry
from core.models.sync import StripeObject
from core.recovery.cases import get_case
from core.recovery.context import find_account

STATUSES = ("open", "recovered", "lost")


@dataclass(frozen=True)
class CaseFilter:
    """What the queue shows; empty tuples mean "any"."""

    statuses: tuple[str, ...] = ("open",)
    buckets: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    min_age_days: int | None = None
    max_age_days: int | None = None
    escalated_only: bool = False
    high_risk_only: bool = False


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue."""

    id: int
    invoice_id: str
    customer: str
    amount_remaining: int
    currency: str
    bucket: str
    raw_code: str | None
    status: str
    segment: str | None
    owner: str | None
    priority: float
    escalated: bool
    high_risk: bool
    attempt_count: int
    first_failed_at: int
    recommended_action: str


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue and how many cases match in all."""

    rows: list[QueueRow]
    total: int
    page: int
    page_size: int


def _filtered(stmt: Any, f: CaseFilter, now: int) -> Any:
    c = RecoveryCase
    if f.statuses:
        stmt = stmt.where(c.status.in_(f.statuses))
    if f.buckets:
        stmt = stmt.where(c.bucket.in_(f.buckets))
    if f.segments:
        stmt = stmt.where(c.segment.in_(f.segments))
    if f.owners:
        stmt = stmt.where(c.owner.in_(f.owners))
    if f.min_age_days is not None:
        stmt = stmt.where(c.first_failed_at <= now - f.min_age_days * 86_400)
    if f.max_age_days is not None:
        stmt = stmt.where(c.first_failed_at >= now - f.max_age_days * 86_400)
    if f.escalated_only:
        stmt = stmt.where(c.escalated.is_(True))
    if f.high_risk_only:
        stmt = stmt.where(c.high_risk.is_(True))
    return stmt


def queue(
    session: Session, f: CaseFilter, *, now: int, page: int = 0, page_size: int = 50
) -> QueuePage:
    """The cases matching `f`, highest priority first, one page at a time."""
    c = RecoveryCase
    cols = (
        c.id,
        c.invoice_id,
        func.coalesce(c.customer_name, c.customer_email, c.customer_id, ""),
        c.amount_remaining,
        c.currency,
        c.bucket,
        c.raw_code,
        c.status,
        c.segment,
        c.owner,
        c.priority,
        c.escalated,
        c.high_risk,
        c.attempt_count,
        c.first_failed_at,
        c.recommended_action,
    )
    stmt = _filtered(select(*cols), f, now).order_by(c.priority.desc(), c.id.desc())
    rows = session.execute(stmt.offset(page * page_size).limit(page_size)).all()
    total = session.scalar(_filtered(select(func.count()).select_from(c), f, now)) or 0
    return QueuePage([QueueRow(*r) for r in rows], int(total), page, page_size)


def filter_options(session: Session) -> dict[str, list[str]]:
    """The values the filters can offer (from the cases themselves)."""
    c = RecoveryCase

    def distinct(col: Any) -> list[str]:
        return sorted(v for v in session.scalars(select(col).distinct()) if v)

    return {
        "bucket": distinct(c.bucket),
        "segment": distinct(c.segment),
        "owner": distinct(c.owner),
    }


def open_by_bucket(session: Session) -> dict[str, int]:
    """Open cases per bucket (the status JSON's "recovery" section)."""
    rows = session.execute(
        select(RecoveryCase.bucket, func.count())
        .where(RecoveryCase.status == "open")
        .group_by(RecoveryCase.bucket)
    ).all()
    return {b: int(n) for b, n in sorted(rows)}


@dataclass
class CaseDetail:
    """Everything the case view shows."""

    case: RecoveryCase
    timeline: list[RecoveryTimelineEntry]
    drafts: list[RecoveryDraft]
    account: CrmAccount | None
    tickets: list[HelpdeskTicket] = field(default_factory=list)

    @property
    def stripe_ids(self) -> list[str]:
        """The Stripe objects worth linking to."""
        c = self.case
        ids = [
            c.invoice_id,
            c.customer_id,
            c.subscription_id,
            c.payment_intent_id,
            c.charge_id,
        ]
        return [i for i in ids if i]


def case_detail(session: Session, case_id: int) -> CaseDetail:
    """A case with its timeline, drafts and context."""
    case = get_case(session, case_id)
    timeline = list(
        session.scalars(
            select(RecoveryTimelineEntry)
            .where(RecoveryTimelineEntry.case_id == case_id)
            .order_by(RecoveryTimelineEntry.occurred_at, RecoveryTimelineEntry.id)
        )
    )
    drafts = list(
        session.scalars(
            select(RecoveryDraft)
            .where(RecoveryDraft.case_id == case_id)
            .order_by(RecoveryDraft.id.desc())
        )
    )
    account = find_account(session, case.customer_id, case.customer_email)
    who = []
    if case.customer_id:
        who.append(HelpdeskTicket.stripe_customer_id == case.customer_id)
    if case.customer_email:
        who.append(HelpdeskTicket.email == case.customer_email.lower())
    tickets = []
    if who:
        from sqlalchemy import or_

        tickets = list(
            session.scalars(
                select(HelpdeskTicket)
                .where(or_(*who))
                .order_by(HelpdeskTicket.created_at.desc())
                .limit(10)
            )
        )
    return CaseDetail(case, timeline, drafts, account, tickets)


def recovery_status(session: Session) -> dict[str, Any]:
    """The "recovery" section of `python -m jobs status --json`.

    `escalated_share_pct` is the share of open cases a person has to look at (a rule fired or
    the segment always escalates); `escalated_by_rule` says which rules put them there.
    """
    by_bucket = open_by_bucket(session)
    open_cases = sum(by_bucket.values())
    hits = session.scalars(
        select(RecoveryCase.rule_hits).where(
            RecoveryCase.status == "open", RecoveryCase.escalated.is_(True)
        )
    ).all()
    by_rule: dict[str, int] = {}
    for case_hits in hits:
        for rule_id in {str(h.get("rule_id")) for h in case_hits or [] if isinstance(h, dict)}:
            by_rule[rule_id] = by_rule.get(rule_id, 0) + 1
    escalated = len(hits)
    return {
        "open_cases": open_cases,
        "open_by_bucket": by_bucket,
        "escalated": escalated,
        "escalated_share_pct": round(100 * escalated / open_cases, 1) if open_cases else 0.0,
        "escalated_by_rule": dict(sorted(by_rule.items())),
    }


def invoice_numbers(session: Session, invoice_ids: list[str]) -> dict[str, str]:
    """Invoice id → the invoice's number ("A9WNODH8-0013") for the synced invoices that have one."""
    wanted = list(dict.fromkeys(i for i in invoice_ids if i))
    if not wanted:
        return {}
    rows = session.execute(
        select(StripeObject.id, StripeObject.data).where(StripeObject.id.in_(wanted))
    ).all()
    return {i: str(d["number"]) for i, d in rows if isinstance(d, dict) and d.get("number")}
