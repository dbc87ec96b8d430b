"""Dispute cases: one per Stripe dispute, kept current from `charge.dispute.*` events
(the handlers are in core/disputes/handlers.py).

    charge.dispute.created ─► case (owner from the CRM, else escalated) ─► priority + fight/accept
    charge.dispute.updated / funds_* / closed ─► same case updated; closed → outcome and amounts
    radar.early_fraud_warning.* ─► an actionable warning proposes a refund (approval action)

Handlers are idempotent: a case is keyed by the dispute id, amounts are derived from the
dispute's balance transactions, and an event older than the one that last set the case is
ignored. Every change is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from core.disputes.deadlines import Urgency, countdown_text, urgency
from core.disputes.settings import DisputeConfig, load_dispute_config
from core.errors import NotFound
from core.governance import audit
from core.governance.auth import require_role
from core.models.base import utcnow
from core.models.disputes import OPEN_STATUSES, DisputeCase, is_answered
from core.models.sync import StripeObject
from core.sync.processing import batch_of
from core.sync.snapshots import get_object

DISPUTE_FEE = 1500  # what a chargeback costs on top of the amount (USD); shown on EFW refunds
# Processing batch key: {object id: its snapshot as JSON text, or None when not stored}.
SNAPSHOTS = "disputes.snapshots"


def config(policy_file: Path | None = None) -> DisputeConfig:
    """The dispute config from the policy file (`Settings.policy_file`; the shipped one if None)."""
    return load_dispute_config(policy_file)


def stripe_object(session: Session, object_id: str | None) -> dict[str, Any] | None:
    """The latest stored snapshot of a Stripe object, or None (read once per processing batch
    when the batch loaded it, see `load_snapshots`; each caller gets its own copy)."""
    if not object_id:
        return None
    loaded = batch_of(session).get(SNAPSHOTS)
    if loaded is not None and object_id in loaded:
        text = loaded[object_id]
        return orjson.loads(text) if text is not None else None
    return get_object(session, object_id)


def load_snapshots(session: Session, object_ids: set[str]) -> dict[str, str | None]:
    """The stored snapshots of these objects as JSON text (None when not stored), one query per
    500. Processing never writes snapshots, so a batch may keep them while it runs."""
    found: dict[str, str | None] = dict.fromkeys(object_ids)
    listed = sorted(object_ids)
    for i in range(0, len(listed), 500):
        for oid, text in session.execute(
            select(StripeObject.id, cast(StripeObject.data, Text)).where(
                StripeObject.id.in_(listed[i : i + 500])
            )
        ):
            found[oid] = text
    return found


def _bt_amounts(dispute: dict[str, Any]) -> dict[str, int]:
    withdrawn = reinstated = fee = fee_back = 0
    for bt in dispute.get("balance_transactions") or []:
        if not isinstance(bt, dict):
            continue
        amount, bt_fee = int(bt.get("amount") or 0), int(bt.get("fee") or 0)
        if amount < 0:
            withdrawn += -amount
            fee += max(bt_fee, 0)
        else:
            reinstated += amount
            fee_back += max(-bt_fee, 0)
    return {
        "amount_withdrawn": withdrawn,
        "amount_reinstated": reinstated,
        "fee": fee,
        "fee_reinstated": fee_back,
    }


def case_fields(dispute: dict[str, Any]) -> dict[str, Any]:
    details = dispute.get("evidence_details") or {}
    card = (dispute.get("payment_method_details") or {}).get("card") or {}
    charge = dispute.get("charge")
    return {
        "charge_id": charge.get("id") if isinstance(charge, dict) else charge,
        "payment_intent_id": dispute.get("payment_intent"),
        "amount": int(dispute.get("amount") or 0),
        "currency": str(dispute.get("currency") or "usd").lower(),
        "reason": str(dispute.get("reason") or "general"),
        "status": str(dispute.get("status") or "needs_response"),
        "case_type": str(card.get("case_type") or "chargeback"),
        "network_reason_code": card.get("network_reason_code")
        or dispute.get("network_reason_code"),
        "due_by": int(details.get("due_by") or 0),
        "has_evidence": bool(details.get("has_evidence")),
        "submission_count": int(details.get("submission_count") or 0),
        "is_charge_refundable": bool(dispute.get("is_charge_refundable")),
        **_bt_amounts(dispute),
    }


def audit_view(case: DisputeCase) -> dict[str, Any]:
    return {
        "status": case.status,
        "due_by": case.due_by,
        "amount": case.amount,
        "currency": case.currency,
        "owner": case.owner,
        "outcome": case.outcome,
        "submission_count": case.submission_count,
    }


def get_case(session: Session, dispute_id: str) -> DisputeCase:
    """The case for a dispute id, or NotFound."""
    case = session.scalar(select(DisputeCase).where(DisputeCase.dispute_id == dispute_id))
    if case is None:
        raise NotFound(f"No dispute case for {dispute_id}: run a sync, or check the id.")
    return case


def assign_owner(session: Session, actor: Any, dispute_id: str, owner: str | None) -> DisputeCase:
    """Give a case an owner (an e-mail address); operators and above."""
    require_role(actor, "operator")
    case = get_case(session, dispute_id)
    before = audit_view(case)
    case.owner = (owner or "").strip().lower() or None
    case.updated_at = utcnow()
    audit.record(session, actor, "dispute.owner", f"dispute:{dispute_id}", before, audit_view(case))
    return case


@dataclass(frozen=True)
class BoardRow:
    """One line of the deadline board."""

    dispute_id: str
    amount: int
    currency: str
    reason: str
    status: str
    owner: str | None
    due_by: int | None
    urgency: Urgency
    countdown: str
    completeness: float
    priority: int
    recommendation: str | None
    expected_value: int | None
    customer_id: str | None


def _board_key(case: DisputeCase, now: int) -> tuple[int, int]:
    if case.answered:
        return (3, -case.stripe_created)
    if not case.due_by:
        return (2, -case.stripe_created)
    if case.due_by <= now:
        return (1, -case.due_by)
    return (0, case.due_by)  # the next deadline first


def board(
    session: Session, now: int, cfg: DisputeConfig | None = None, *, open_only: bool = False
) -> list[BoardRow]:
    """Cases ordered so the most urgent unanswered dispute comes first."""
    cfg = cfg or config()
    q = select(DisputeCase)
    if open_only:
        q = q.where(DisputeCase.status.in_(OPEN_STATUSES))
    cases = sorted(session.scalars(q), key=lambda c: _board_key(c, now))
    return [
        BoardRow(
            dispute_id=c.dispute_id,
            amount=c.amount,
            currency=c.currency,
            reason=c.reason,
            status=c.status,
            owner=c.owner,
            due_by=c.due_by,
            urgency=urgency(c.due_by, now, answered=c.answered, bands=cfg.bands),
            countdown="—" if c.answered else countdown_text(c.due_by, now),
            completeness=c.evidence_completeness,
            priority=c.priority,
            recommendation=c.recommendation,
            expected_value=c.expected_value,
            customer_id=c.customer_id,
        )
        for c in cases
    ]


def status_counts(session: Session, now: int) -> dict[str, int]:
    """Open disputes, those due within 72 h and those past due (for `jobs status`)."""
    rows = session.execute(
        select(DisputeCase.due_by, DisputeCase.status, DisputeCase.submission_count).where(
            DisputeCase.status.in_(OPEN_STATUSES)
        )
    ).all()
    waiting = [due for due, status, subs in rows if not is_answered(status, subs)]
    return {
        "open": len(rows),
        "due_within_72h": sum(1 for d in waiting if d and now < d <= now + 72 * 3600),
        "past_due": sum(1 for d in waiting if d and d <= now),
    }
