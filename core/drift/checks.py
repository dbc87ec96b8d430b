"""Drift: where Stripe and the team's other systems disagree — each a count, a trend, a list.

Checks (names match the sandbox's truth report where the sandbox seeds them):
  crm_missing_customer, crm_mrr_mismatch, crm_no_owner           Stripe vs CRM
  entitlement_active_but_canceled, entitlement_revoked_but_paid  Stripe vs the product's access
  bank_payout_missing, bank_deposit_late, bank_split_deposit,
  bank_unknown_deposit, bank_no_statement                        payouts vs bank deposits
  sync_dead_letters, sync_failing_accounts, sync_webhook_rejects sync health
  approvals_waiting, approvals_superseded                        approvals
Every item can open an internal task (ActionType.create_task), once per item; the entitlement
items propose the action that fixes them instead (core/drift/proposals.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.books import figures
from core.books import queries as q
from core.books.data import objects_by_id
from core.config import Settings
from core.db import upsert
from core.governance.actions import request_action
from core.governance.policy import Policy
from core.governance.states import ActionType
from core.models.base import utcnow
from core.models.books import DriftSnapshot
from core.models.governance import ActionRequest
from core.models.sync import Event, SyncState, WebhookReject
from core.money import format_money

CANCELED = ("canceled", "unpaid", "incomplete_expired")
PAID = ("active", "trialing")
WAITING_HOURS = 24


@dataclass(frozen=True)
class DriftItem:
    """One mismatch to look at."""

    check: str
    key: str  # stable id of the item (customer, payout, deposit, action…)
    summary: str
    amount: int | None = None
    currency: str | None = None


@dataclass
class DriftCheck:
    """One check's result: its items (the drill-down), and so its count."""

    name: str
    title: str
    area: str
    items: list[DriftItem] = field(default_factory=list)
    metric: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """How many items disagree."""
        return len(self.items)


def _money(amount: float | int, currency: str | None) -> str:
    return format_money(int(round(amount)), currency or "usd")


def _crm_items(
    session: Session, settings: Settings, name: str, limit: int | None, offset: int
) -> list[DriftItem]:
    """One page (or all) of a CRM / entitlement check's items, straight from SQL."""
    if name == "crm_missing_customer":
        rows = session.execute(q.crm_missing(limit, offset))
        return [DriftItem(name, cid, f"{email or cid} is not in the CRM") for cid, email in rows]
    if name == "crm_mrr_mismatch":
        stmt = q.crm_mrr_mismatch(settings.drift_mrr_tolerance_pct, limit, offset)
        out = []
        for cid, crm_name, stripe_mrr, crm_mrr, currency in session.execute(stmt):
            cur = currency or "usd"
            out.append(
                DriftItem(
                    name,
                    cid,
                    f"{crm_name or cid}: Stripe MRR {_money(stripe_mrr, cur)}, "
                    f"CRM {_money(crm_mrr, cur)}",
                    int(round(stripe_mrr - crm_mrr)),
                    cur,
                )
            )
        return out
    if name == "crm_no_owner":
        rows = session.execute(q.crm_no_owner(limit, offset))
        return [DriftItem(name, key, f"{label or key} has no owner") for key, label in rows]
    kind = "active" if name == "entitlement_active_but_canceled" else "revoked"
    text = (
        "access active, subscription canceled or unpaid"
        if kind == "active"
        else "access revoked, subscription active or trialing"
    )
    rows = session.execute(q.entitlement_mismatch(kind, limit, offset))
    return [DriftItem(name, str(who), f"{who}: {text}") for _eid, who in rows]


def _crm_count(session: Session, settings: Settings, name: str) -> int:
    stmt = {
        "crm_missing_customer": lambda: q.crm_missing(),
        "crm_mrr_mismatch": lambda: q.crm_mrr_mismatch(settings.drift_mrr_tolerance_pct),
        "crm_no_owner": lambda: q.crm_no_owner(),
        "entitlement_active_but_canceled": lambda: q.entitlement_mismatch("active"),
        "entitlement_revoked_but_paid": lambda: q.entitlement_mismatch("revoked"),
    }[name]()
    return q.count_of(session, stmt)


SQL_CHECKS: dict[str, tuple[str, str]] = {
    "crm_missing_customer": ("Stripe customers missing in the CRM", "CRM"),
    "crm_mrr_mismatch": ("MRR differs between Stripe and the CRM", "CRM"),
    "crm_no_owner": ("CRM accounts without an owner", "CRM"),
    "entitlement_active_but_canceled": (
        "Access active, subscription canceled or unpaid",
        "Entitlements",
    ),
    "entitlement_revoked_but_paid": ("Access revoked, subscription paid", "Entitlements"),
}


def _sql_check(session: Session, settings: Settings, name: str) -> DriftCheck:
    title, area = SQL_CHECKS[name]
    return DriftCheck(name, title, area, _crm_items(session, settings, name, None, 0))


def crm_checks(session: Session, settings: Settings) -> list[DriftCheck]:
    """Stripe customers missing in the CRM, MRR beyond the tolerance, accounts without an owner."""
    names = ("crm_missing_customer", "crm_mrr_mismatch", "crm_no_owner")
    return [_sql_check(session, settings, n) for n in names]


def entitlement_checks(session: Session, settings: Settings) -> list[DriftCheck]:
    """Access active while the subscription is canceled / unpaid, revoked while it is paid."""
    names = ("entitlement_active_but_canceled", "entitlement_revoked_but_paid")
    return [_sql_check(session, settings, n) for n in names]


def bank_checks(session: Session, today: date) -> list[DriftCheck]:
    """Paid payouts with no deposit, late deposits, split deposits, deposits nobody explains,
    each on the account's own statement; accounts with payouts but no statement imported.

    Over the bank figures' window (core/books/figures.py), so "deposits matching no payout"
    is the same count as the Bank tab's and `status`'s unmatched deposits."""
    result = figures.bank_matching(session, today=today)
    missing = DriftCheck("bank_payout_missing", "Paid payouts with no bank deposit", "Bank")
    late = DriftCheck("bank_deposit_late", "Deposits later than the payout's arrival date", "Bank")
    split = DriftCheck("bank_split_deposit", "Payouts that arrived in several deposits", "Bank")
    unknown = DriftCheck("bank_unknown_deposit", "Deposits matching no payout", "Bank")
    no_statement = DriftCheck(
        "bank_no_statement", "Accounts with payouts but no bank statement imported", "Bank"
    )
    for a in result.without_statement:
        no_statement.items.append(
            DriftItem(
                no_statement.name,
                f"account:{a.label}",
                f"{a.label}: {a.payouts} payout(s), no bank statement imported; import it on "
                f"Payouts & books (python -m jobs import bank FILE --account {a.label})",
            )
        )

    # Only the unmatched payouts' snapshots are read back, for their status.
    unmatched = objects_by_id(session, [u.id for u in result.unmatched_payouts], "payout")
    status = {pid: p.get("status") for pid, p in unmatched.items()}
    for u in result.unmatched_payouts:
        if status.get(u.id) == "paid":
            missing.items.append(
                DriftItem(
                    missing.name,
                    u.id,
                    f"{u.id} ({u.on}{_on_account(u.account)}): {u.reason}",
                    u.amount,
                    u.currency,
                )
            )
    for m in result.matches:
        if m.method == "split deposit":
            split.items.append(
                DriftItem(
                    split.name,
                    m.payout_id,
                    f"{m.payout_id} arrived in {len(m.deposit_ids)} deposits",
                )
            )
        elif m.days_late > 0:
            late.items.append(
                DriftItem(
                    late.name,
                    m.payout_id,
                    f"{m.payout_id} arrived {m.days_late} day(s) late",
                )
            )
    for u in result.unmatched_deposits:  # credits only: withdrawals are not deposits
        unknown.items.append(
            DriftItem(
                unknown.name,
                f"deposit:{u.id}",
                f"{u.on} {format_money(u.amount, u.currency)} {u.label}"
                f"{_on_account(u.account)}: {u.reason}",
                u.amount,
                u.currency,
            )
        )
    return [missing, late, split, unknown, no_statement]


def _on_account(account: str) -> str:
    return f", {account}" if account else ""


def sync_checks(session: Session) -> list[DriftCheck]:
    """Dead-lettered events, accounts whose sync is failing, rejected webhooks."""
    dead = DriftCheck("sync_dead_letters", "Events in the dead-letter queue", "Sync")
    for ev_id, typ, err in session.execute(
        select(Event.event_id, Event.type, Event.last_error)
        .where(Event.status == "dead")
        .limit(500)
    ):
        dead.items.append(DriftItem(dead.name, ev_id, f"{typ}: {(err or '')[:160]}"))
    failing = DriftCheck("sync_failing_accounts", "Sync streams ending in an error", "Sync")
    for st in session.scalars(select(SyncState).where(SyncState.last_error.is_not(None))):
        if st.last_success_at is None or (
            st.last_attempt_at and st.last_attempt_at > st.last_success_at
        ):
            failing.items.append(
                DriftItem(
                    failing.name,
                    f"{st.account or 'platform'}:{st.stream}",
                    f"{st.account or 'platform'} {st.stream}: {(st.last_error or '')[:160]}",
                )
            )
    rejects = DriftCheck("sync_webhook_rejects", "Rejected webhook deliveries (by reason)", "Sync")
    for r in session.scalars(select(WebhookReject)):
        rejects.items.append(
            DriftItem(rejects.name, f"webhook:{r.reason}", f"{r.count} rejected: {r.reason}")
        )
    rejects.metric = {"rejected": sum(int(r.count) for r in session.scalars(select(WebhookReject)))}
    return [dead, failing, rejects]


def approval_checks(session: Session, now: datetime | None = None) -> list[DriftCheck]:
    """Requests waiting over a day, superseded actions; approval rate and time waiting."""
    now = now or utcnow()
    waiting = DriftCheck(
        "approvals_waiting",
        f"Action requests waiting over {WAITING_HOURS} h",
        "Approvals",
    )
    superseded = DriftCheck(
        "approvals_superseded",
        "Actions superseded (the world changed first)",
        "Approvals",
    )
    counts = dict(
        session.execute(
            select(ActionRequest.status, func.count()).group_by(ActionRequest.status)
        ).all()
    )
    ages = []
    for a in session.scalars(select(ActionRequest).where(ActionRequest.status == "requested")):
        age = (now - a.created_at).total_seconds() / 3600
        ages.append(age)
        if age > WAITING_HOURS:
            waiting.items.append(
                DriftItem(
                    waiting.name,
                    f"action:{a.id}",
                    f"#{a.id} {a.action_type} on {a.target_id}, waiting {age:,.0f} h",
                )
            )
    for a in session.scalars(
        select(ActionRequest).where(ActionRequest.status == "superseded").limit(500)
    ):
        superseded.items.append(
            DriftItem(
                superseded.name,
                f"action:{a.id}",
                f"#{a.id} {a.action_type} on {a.target_id}: {a.outcome_note or 'superseded'}",
            )
        )
    approved = sum(counts.get(s, 0) for s in ("approved", "executing", "succeeded", "failed"))
    decided = approved + counts.get("rejected", 0)
    waiting.metric = {
        "approval_rate_pct": round(100 * approved / decided, 1) if decided else None,
        "median_wait_hours": round(sorted(ages)[len(ages) // 2], 1) if ages else 0.0,
        "open": len(ages),
    }
    return [waiting, superseded]


CHECK_GROUPS: list[Callable[[Session, Settings], list[DriftCheck]]] = [
    crm_checks,
    entitlement_checks,
    lambda s, settings: bank_checks(s, figures.team_today(settings)),
    lambda s, _settings: sync_checks(s),
    lambda s, _settings: approval_checks(s),
]


CHECK_ORDER = (
    "crm_missing_customer", "crm_mrr_mismatch", "crm_no_owner",
    "entitlement_active_but_canceled", "entitlement_revoked_but_paid",
    "bank_payout_missing", "bank_deposit_late", "bank_split_deposit", "bank_unknown_deposit",
    "bank_no_statement",
    "sync_dead_letters", "sync_failing_accounts", "sync_webhook_rejects",
    "approvals_waiting", "approvals_superseded",
)  # fmt: skip
ITEM_CAP = 2000  # items kept per check and day for the drill-down (the count is exact)


def run_checks(session: Session, settings: Settings) -> list[DriftCheck]:
    """Every drift check, in display order."""
    return [check for group in CHECK_GROUPS for check in group(session, settings)]


def take_snapshot(
    session: Session, settings: Settings, day: date | None = None
) -> list[DriftCheck]:
    """Run the checks and store today's counts (re-running on a day updates that day)."""
    day = day or datetime.now(UTC).astimezone(settings.tz).date()
    checks = run_checks(session, settings)
    rows = [
        {
            "day": day,
            "check": c.name,
            "count": c.count,
            "details": {
                "metric": c.metric,
                "title": c.title,
                "area": c.area,
                # The drill-down the page pages through, so it never re-runs a check.
                "items": [asdict(i) for i in c.items[:ITEM_CAP]],
            },
            "taken_at": utcnow(),
        }
        for c in checks
    ]
    upsert(
        session,
        DriftSnapshot.__table__,  # type: ignore[arg-type]
        rows,
        ["day", "check"],
        ["count", "details", "taken_at"],
    )  # type: ignore[arg-type]
    _drop_old_items(session, day)
    return checks


def _drop_old_items(session: Session, day: date) -> None:
    """Keep drill-down items only on the newest day: older days keep counts and metrics."""
    previous = session.scalar(select(func.max(DriftSnapshot.day)).where(DriftSnapshot.day < day))
    if previous is None:
        return
    for row in session.scalars(select(DriftSnapshot).where(DriftSnapshot.day == previous)):
        if row.details and row.details.get("items"):
            row.details = {k: v for k, v in row.details.items() if k != "items"}


def trend(session: Session, days: int = 30, today: date | None = None) -> list[dict[str, Any]]:
    """Daily counts per check over the last `days` days (for the trend chart)."""
    since = (today or datetime.now(UTC).date()) - timedelta(days=days)
    stmt = (
        select(DriftSnapshot.day, DriftSnapshot.check, DriftSnapshot.count)
        .where(DriftSnapshot.day >= since)
        .order_by(DriftSnapshot.day)
    )
    return [{"day": d, "check": c, "count": n} for d, c, n in session.execute(stmt)]


def open_task(
    session: Session, actor: Any, item: DriftItem, *, policy: Policy | None = None
) -> ActionRequest:
    """Open an internal task for a drift item (once per item: a repeat returns the first)."""
    return request_action(
        session,
        actor,
        action_type=ActionType.CREATE_TASK,
        target_id=item.key,
        params={"title": f"Drift: {item.summary}"[:200], "check": item.check},
        reason=f"Drift check {item.check}: {item.summary}",
        rule_id=f"drift.{item.check}",
        dedupe_key=f"drift:{item.check}:{item.key}",
        policy=policy,
    )
