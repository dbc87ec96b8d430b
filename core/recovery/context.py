"""What surrounds a recovery case: CRM account, tickets, disputes, history; and the policy verdict.

Missing context never blocks a case: every lookup may come back empty, and the case records
which context was missing so the page can say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session

from core.governance.policy import load_policy
from core.models.context import CrmAccount, HelpdeskTicket
from core.models.disputes import DisputeCase
from core.models.recovery import RecoveryCase
from core.models.sync import StripeObject
from core.recovery.classification import Bucket, ChurnContext, churn_signals
from core.recovery.rules import CaseFacts, RecoverySettings, evaluate
from core.sync.snapshots import get_object

OPEN_DISPUTE_STATUSES = (
    "warning_needs_response",
    "warning_under_review",
    "needs_response",
    "under_review",
    "appeal_needs_response",
    "appeal_under_review",
)
# EventContext.batch keys (read by core/recovery/batch.py): {subscription id: snapshot or None},
# and the CRM accounts of the batch's customers (see `load_accounts`).
SUBSCRIPTIONS = "recovery.subscriptions"
CRM_ACCOUNTS = "recovery.crm_accounts"


def recovery_settings(policy_file: Any = None) -> tuple[RecoverySettings, str]:
    """The `[recovery]` policy section and the policy version it belongs to."""
    policy = load_policy(policy_file)
    return RecoverySettings.from_section(policy.section("recovery")), policy.version


@dataclass
class CaseContext:
    """The context found for one case (None / empty when missing)."""

    account: CrmAccount | None = None
    tickets: list[HelpdeskTicket] = field(default_factory=list)
    subscription: dict[str, Any] | None = None
    open_dispute: bool = False
    failed_invoices_90d: int = 0
    missing: list[str] = field(default_factory=list)


def find_account(session: Session, customer_id: str | None, email: str | None) -> CrmAccount | None:
    """The CRM account by Stripe customer id, else by e-mail (one query for both)."""
    who = [CrmAccount.stripe_customer_id == customer_id] if customer_id else []
    if email:
        who.append(CrmAccount.email == email.lower())
    if not who:
        return None
    first = case((who[0], 0), else_=1) if customer_id else literal(0)  # the customer id's own
    return session.scalar(
        select(CrmAccount).where(or_(*who)).order_by(first, CrmAccount.id).limit(1)
    )


@dataclass(frozen=True)
class LoadedAccounts:
    """The CRM accounts of some customers and e-mail addresses, read together (detached)."""

    customers: frozenset[str]
    emails: frozenset[str]
    accounts: tuple[CrmAccount, ...]

    def find(self, customer_id: str | None, email: str | None) -> Any:
        """`find_account` among these, or NOT_LOADED when the customer or e-mail was not read."""
        email = email.lower() if email else None
        if (customer_id and customer_id not in self.customers) or (
            email and email not in self.emails
        ):
            return NOT_LOADED
        mine = [
            (0 if customer_id and a.stripe_customer_id == customer_id else 1, a.id, a)
            for a in self.accounts
            if (customer_id and a.stripe_customer_id == customer_id) or (email and a.email == email)
        ]
        return min(mine, key=lambda t: (t[0], t[1]))[2] if mine else None


NOT_LOADED: Any = object()


def load_accounts(session: Session, customers: set[str], emails: set[str]) -> LoadedAccounts:
    """The CRM accounts of these customers or e-mail addresses (lower case), in one query per
    500 of each, detached from the session (read-only: a batch keeps them while it runs)."""
    found: dict[int, CrmAccount] = {}
    for column, wanted in ((CrmAccount.stripe_customer_id, customers), (CrmAccount.email, emails)):
        listed = sorted(wanted)
        for i in range(0, len(listed), 500):
            for acct in session.scalars(select(CrmAccount).where(column.in_(listed[i : i + 500]))):
                found[acct.id] = acct
    for acct in found.values():
        session.expunge(acct)
    return LoadedAccounts(frozenset(customers), frozenset(emails), tuple(found.values()))


def load_objects(session: Session, object_ids: set[str]) -> dict[str, dict[str, Any] | None]:
    """The stored snapshots of these objects (None when not stored), one query per 500."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(object_ids)
    listed = sorted(object_ids)
    for i in range(0, len(listed), 500):
        for oid, data in session.execute(
            select(StripeObject.id, StripeObject.data).where(
                StripeObject.id.in_(listed[i : i + 500])
            )
        ):
            found[oid] = dict(data)
    return found


def gather_context(
    session: Session,
    case: RecoveryCase,
    cfg: RecoverySettings,
    batch: dict[str, Any] | None = None,
) -> CaseContext:
    """Look up everything the rules and the page need about a case's customer (the CRM account
    and the subscription from what the batch read, when it read them: `batch`)."""
    batch = batch or {}
    ctx = CaseContext()
    loaded = batch.get(CRM_ACCOUNTS)
    account = (
        loaded.find(case.customer_id, case.customer_email)
        if isinstance(loaded, LoadedAccounts)
        else NOT_LOADED
    )
    if account is NOT_LOADED:
        account = find_account(session, case.customer_id, case.customer_email)
    ctx.account = account
    if ctx.account is None:
        ctx.missing.append("crm_account")
    who = [HelpdeskTicket.stripe_customer_id == case.customer_id] if case.customer_id else []
    if case.customer_email:
        who.append(HelpdeskTicket.email == case.customer_email.lower())
    if who:
        ctx.tickets = list(
            session.scalars(
                select(HelpdeskTicket)
                .where(or_(*who))
                .order_by(HelpdeskTicket.created_at.desc())
                .limit(20)
            )
        )
    if not ctx.tickets:
        ctx.missing.append("tickets")
    subs = batch.get(SUBSCRIPTIONS) or {}
    if case.subscription_id and case.subscription_id in subs:
        ctx.subscription = subs[case.subscription_id]
    else:
        ctx.subscription = (
            get_object(session, case.subscription_id) if case.subscription_id else None
        )
    if case.customer_id:
        since = case.first_failed_at - 90 * 86400
        disputes = (
            select(func.count())
            .select_from(DisputeCase)
            .where(
                DisputeCase.customer_id == case.customer_id,
                DisputeCase.status.in_(OPEN_DISPUTE_STATUSES),
            )
            .scalar_subquery()
        )
        failed = (
            select(func.count())
            .select_from(RecoveryCase)
            .where(
                RecoveryCase.customer_id == case.customer_id,
                RecoveryCase.first_failed_at >= since,
            )
            .scalar_subquery()
        )
        open_disputes, failed_90d = session.execute(select(disputes, failed)).one()
        ctx.open_dispute = bool(open_disputes)
        ctx.failed_invoices_90d = int(failed_90d or 0)
    return ctx


MONTHS_PER_INTERVAL = {"year": 12, "month": 1}


def plan_months(sub: dict[str, Any] | None) -> int | None:
    """The subscription's billing interval in months (12 = annual), None when unknown."""
    items = ((sub or {}).get("items") or {}).get("data") or []
    if not items or not isinstance(items[0], dict):
        return None
    item = items[0]
    price = item.get("price") or item.get("plan") or {}
    recurring = price.get("recurring") or price
    months = MONTHS_PER_INTERVAL.get(str(recurring.get("interval")))
    if months is None:
        return 0  # daily / weekly plans: shorter than any month
    return months * int(recurring.get("interval_count") or 1)


def _period(sub: dict[str, Any] | None, edge: str) -> date | None:
    """The subscription's current period start / end (item level since 2025, else top level)."""
    sub = sub or {}
    items = (sub.get("items") or {}).get("data") or []
    raw = (items[0].get(f"current_period_{edge}") if items else None) or sub.get(
        f"current_period_{edge}"
    )
    return datetime.fromtimestamp(int(raw), UTC).date() if raw else None


def _churn_context(case: RecoveryCase, ctx: CaseContext) -> ChurnContext:
    sub = ctx.subscription or {}
    acct = ctx.account
    return ChurnContext(
        pending_cancellation=bool(sub.get("cancel_at_period_end") or sub.get("cancel_at")),
        crm_flags=tuple(acct.flags or []) if acct else (),
        renewal_date=(acct.renewal_date if acct else None) or _period(sub, "end"),
        last_renewal=_period(sub, "start"),
        plan_months=plan_months(sub),
        tickets=tuple(
            (t.subject, t.status, t.created_at, tuple(t.tags or [])) for t in ctx.tickets
        ),
        failed_invoices_90d=ctx.failed_invoices_90d,
        attempt_count=case.attempt_count,
    )


def customer_value(acct: CrmAccount | None) -> int | None:
    """Monthly value in minor units: the CRM's MRR, else ARR / 12."""
    if acct is None:
        return None
    if acct.mrr is not None:
        return acct.mrr
    return acct.arr // 12 if acct.arr is not None else None


def apply_policy(
    session: Session,
    case: RecoveryCase,
    ctx: CaseContext,
    cfg: RecoverySettings,
    policy_version: str,
    today: date | None = None,
) -> None:
    """Churn signals, rule hits, route, next action and priority onto the case."""
    today = today or datetime.now(UTC).date()
    signals = churn_signals(
        _churn_context(case, ctx),
        today=today,
        renewal_within_days=cfg.renewal_within_days,
        ticket_lookback_days=cfg.ticket_lookback_days,
        repeated_failures=cfg.repeated_failures,
        renewal_min_months=cfg.renewal_min_months,
    )
    acct = ctx.account
    case.segment = acct.segment if acct else None
    case.owner = acct.owner if acct else None
    case.customer_value = customer_value(acct)
    hours = max(0.0, (datetime.now(UTC).timestamp() - case.first_failed_at) / 3600)
    facts = CaseFacts(
        bucket=Bucket(case.bucket),
        amount_remaining=case.amount_remaining,
        currency=case.currency,
        customer_value=case.customer_value,
        segment=case.segment,
        owner=case.owner,
        flags=tuple(acct.flags or []) if acct else (),
        signals=tuple(signals),
        open_dispute=ctx.open_dispute,
        hours_since_first_failure=hours,
        retries_left=case.next_payment_attempt is not None,
    )
    decision = evaluate(facts, cfg, policy_version)
    case.high_risk = bool(signals)
    case.risk_signals = signals
    case.rule_hits = [h.as_dict() for h in decision.hits]
    case.policy_version = policy_version
    case.escalated = decision.escalated
    case.route = decision.route
    case.recommended_action = decision.recommended_action
    case.priority = decision.priority
    case.tone = decision.tone
    case.in_grace_period = decision.in_grace_period
    case.missing_context = list(ctx.missing)


def expiry_window(today: date, months_ahead: int) -> list[tuple[int, int]]:
    """(year, month) pairs from this month to `months_ahead` months later."""
    out = []
    y, m = today.year, today.month
    for _ in range(months_ahead + 1):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def days_between(a: date, b: date) -> int:
    """Whole days from a to b."""
    return (b - a) // timedelta(days=1)
