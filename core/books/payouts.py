"""Payout reconciliation: each automatic payout's balance transactions, and whether they add up.

Stripe lists what an automatic payout contains at `GET /v1/balance_transactions?payout=po_...`,
complete only once `reconciliation_status == "completed"`; until then the payout waits. A payout
reported `paid` that later fails is flagged (Stripe treats `paid` as provisional). Manual payouts
have no breakdown: they are reconciled against the bank by amount and date only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.books.data import balance_transaction_parts, objects_of_type, store_objects
from core.models.base import utcnow
from core.models.books import PayoutReconciliation
from core.models.sync import Event

REFUND_CATEGORIES = ("refund", "refund_failure", "partial_capture_reversal")
DISPUTE_CATEGORIES = ("dispute", "dispute_reversal")
PAYOUT_CATEGORIES = ("payout", "payout_reversal", "payout_cancel", "payout_failure")


@dataclass(frozen=True)
class PayoutSummary:
    """A payout's breakdown; every figure is in minor units of the payout currency."""

    gross: int
    fees: int
    refunds: int
    disputes: int
    adjustments: int
    net: int
    difference: int
    count: int


def summarize(payout: dict[str, Any], bts: list[dict[str, Any]]) -> PayoutSummary:
    """Gross, fees, refunds, disputes, adjustments and net of a payout's transactions (pure)."""
    gross = fees = refunds = disputes = adjustments = net = count = 0
    for bt in bts:
        cat = bt.get("reporting_category") or bt.get("type")
        if cat in PAYOUT_CATEGORIES and bt.get("source") == payout.get("id"):
            continue  # the payout's own withdrawal is the thing being reconciled
        amount, fee = int(bt.get("amount") or 0), int(bt.get("fee") or 0)
        count += 1
        net += amount - fee
        fees -= fee
        if cat in ("charge", "payment"):
            gross += amount
        elif cat in REFUND_CATEGORIES:
            refunds += amount
        elif cat in DISPUTE_CATEGORIES:
            disputes += amount
        elif cat == "fee":
            fees += amount
        else:
            adjustments += amount
    amount = int(payout.get("amount") or 0)
    return PayoutSummary(gross, fees, refunds, disputes, adjustments, net, net - amount, count)


def payout_state(payout: dict[str, Any], summary: PayoutSummary | None, was_paid: bool) -> str:
    """waiting | reconciled | mismatch | manual | failed | paid_then_failed (pure)."""
    status = payout.get("status")
    if status in ("failed", "canceled"):
        return "paid_then_failed" if was_paid else "failed"
    if not payout.get("automatic", True):
        return "manual"
    if payout.get("reconciliation_status") != "completed" or summary is None:
        return "waiting"
    return "reconciled" if summary.difference == 0 else "mismatch"


def _was_paid(session: Session, payout_id: str, previous: PayoutReconciliation | None) -> bool:
    if previous is not None and (previous.was_paid or previous.status == "paid"):
        return True
    hit = session.scalar(
        select(Event.id).where(Event.object_id == payout_id, Event.type == "payout.paid").limit(1)
    )
    return hit is not None


def list_payout_transactions(gateway: Any, payout_id: str) -> list[dict[str, Any]]:
    """Every balance transaction of an automatic payout, read from Stripe page by page."""
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"payout": payout_id, "limit": 100}
    while True:
        page = gateway.list_page("balance_transactions", params)
        out.extend(page.get("data") or [])
        if not page.get("has_more") or not page.get("data"):
            return out
        params = {**params, "starting_after": page["data"][-1]["id"]}


def _trace(payout: dict[str, Any]) -> str | None:
    trace = payout.get("trace_id")
    return (trace.get("value") if isinstance(trace, dict) else trace) or None


def _day(epoch: Any) -> date | None:
    return datetime.fromtimestamp(int(epoch), UTC).date() if epoch else None


@dataclass
class ReconcileRun:
    """What one reconciliation pass did."""

    checked: int = 0
    fetched: int = 0
    states: dict[str, int] = field(default_factory=dict)


def reconcile_payouts(
    session: Session,
    gateway_for: Callable[[str], Any] | None = None,
    account: str | None = None,
) -> ReconcileRun:
    """Reconcile every stored payout; fetch a completed payout's transactions once via Stripe."""
    run = ReconcileRun()
    for payout in objects_of_type(session, "payout", account):
        acct = payout["_account"]
        row = session.get(PayoutReconciliation, payout["id"])
        was_paid = _was_paid(session, payout["id"], row)
        bt_ids = list(row.balance_transaction_ids) if row else []
        ready = payout.get("automatic", True) and payout.get("reconciliation_status") == "completed"
        if ready and not bt_ids and gateway_for is not None:
            bts = list_payout_transactions(gateway_for(acct), payout["id"])
            store_objects(session, acct, bts)
            bt_ids = [b["id"] for b in bts]
            run.fetched += 1
        else:
            found = balance_transaction_parts(session, bt_ids) if ready and bt_ids else {}
            bts = [found[i] for i in bt_ids if i in found]  # one read per payout, not per id
        summary = summarize(payout, bts) if ready and bt_ids else None
        state = payout_state(payout, summary, was_paid)
        values = {
            "account": acct,
            "amount": int(payout.get("amount") or 0),
            "currency": payout.get("currency") or "usd",
            "created": int(payout.get("created") or 0),
            "arrival_date": _day(payout.get("arrival_date")),
            "automatic": bool(payout.get("automatic", True)),
            "status": payout.get("status") or "unknown",
            "reconciliation_status": payout.get("reconciliation_status"),
            "trace_id": _trace(payout),
            "state": state,
            "was_paid": was_paid or payout.get("status") == "paid",
            "balance_transaction_ids": bt_ids,
            "checked_at": utcnow(),
            "note": _note(state, payout, summary),
        }
        if summary is not None:
            values.update(
                gross=summary.gross, fees=summary.fees, refunds=summary.refunds,
                disputes=summary.disputes, adjustments=summary.adjustments, net=summary.net,
                difference=summary.difference, transaction_count=summary.count,
            )  # fmt: skip
        if row is None:
            zero = dict.fromkeys(
                ("gross", "fees", "refunds", "disputes", "adjustments", "net", "difference",
                 "transaction_count"), 0)  # fmt: skip
            session.add(PayoutReconciliation(payout_id=payout["id"], **{**zero, **values}))
        else:
            for k, v in values.items():
                setattr(row, k, v)
        run.checked += 1
        run.states[state] = run.states.get(state, 0) + 1
    session.flush()
    return run


def _note(state: str, payout: dict[str, Any], summary: PayoutSummary | None) -> str | None:
    if state == "paid_then_failed":
        code = payout.get("failure_code") or "unknown reason"
        return f"reported paid, then failed ({code}): reverse the deposit in the books"
    if state == "mismatch" and summary is not None:
        return f"transactions add up to {summary.net}, payout is {payout.get('amount')}"
    if state == "waiting":
        return "waiting for Stripe to finish reconciling this payout"
    if state == "manual":
        return "manual payout: no breakdown; matched to the bank by amount and date"
    return None


def reconciliations(
    session: Session, date_from: date | None = None, date_to: date | None = None
) -> list[PayoutReconciliation]:
    """Stored reconciliation rows, newest arrival first, optionally within arrival dates."""
    stmt = select(PayoutReconciliation).order_by(
        PayoutReconciliation.arrival_date.desc(), PayoutReconciliation.payout_id
    )
    if date_from:
        stmt = stmt.where(PayoutReconciliation.arrival_date >= date_from)
    if date_to:
        stmt = stmt.where(PayoutReconciliation.arrival_date <= date_to)
    return list(session.scalars(stmt))
