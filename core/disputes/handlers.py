"""The dispute domain's event handlers: `charge.dispute.*` keeps the case current (then the
assessment and the first alert follow), `radar.early_fraud_warning.*` proposes a refund.

An appeal (`appeal_needs_response`, with a new `evidence_details.due_by`) reopens a decided case:
its outcome is cleared until the appeal is decided, and it needs a response again although
`submission_count` is already 1 (see `core.models.disputes.is_answered`).

Handlers are idempotent: a case is keyed by the dispute id, and an event older than the one
that last set the case is ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from core.disputes.actions import propose_efw_refund
from core.disputes.assessment import HISTORY, assess, load_history
from core.disputes.cases import (
    SNAPSHOTS,
    audit_view,
    case_fields,
    config,
    load_snapshots,
    stripe_object,
)
from core.disputes.evidence.context import fact_key
from core.disputes.evidence.facts import FACTS, load_facts
from core.disputes.evidence.narrative import load_templates
from core.disputes.reminders import on_new_dispute, owner_at_creation
from core.disputes.settings import DisputeConfig
from core.errors import InputError
from core.governance import audit
from core.governance.policy import load_policy
from core.models.base import utcnow
from core.models.disputes import APPEAL_STATUSES, CLOSED_STATUSES, OPEN_STATUSES, DisputeCase
from core.sync.processing import EventContext, handles

DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
EFW_EVENTS = ("radar.early_fraud_warning.created", "radar.early_fraud_warning.updated")
# Among events with the same `created` second, status only moves forward: through the first
# stage (open → under review → decided), then through an appeal, then to the final decision.
load_templates()  # loaded as the processing worker starts (core.handlers)
_STATUS_RANK = (
    {s: 0 for s in OPEN_STATUSES}
    | {"warning_under_review": 1, "under_review": 1, "appeal_under_review": 1}
    | {s: 2 for s in CLOSED_STATUSES}
)


# Built once: the statement is its parameters' only per-event part (no select() per event).
_CASE_FOR_UPDATE = (
    select(DisputeCase).where(DisputeCase.dispute_id == bindparam("dispute_id")).with_for_update()
)


def _progress(status: str, submission_count: int) -> tuple[int, int]:
    """(stage, step) of a dispute: an appeal, or a decision after one, is the second stage."""
    stage = 1 if status in APPEAL_STATUSES or submission_count > 1 else 0
    return stage, _STATUS_RANK.get(status, 0)


def apply_dispute(
    session: Session,
    dispute: dict[str, Any],
    *,
    event_created: int,
    account: str = "",
    cfg: DisputeConfig | None = None,
    now: int | None = None,
    tz: str = "UTC",
    mode: str = "sandbox",
) -> tuple[DisputeCase, bool]:
    """Create or update the case for a dispute object; returns (case, created)."""
    cfg = cfg or config()
    fields = case_fields(dispute)
    case = session.scalar(_CASE_FOR_UPDATE, {"dispute_id": dispute["id"]})
    created = case is None
    if case is None:
        charge = stripe_object(session, fields["charge_id"]) or {}
        customer = charge.get("customer")
        case = DisputeCase(
            dispute_id=dispute["id"],
            account=account or "",
            customer_id=customer.get("id") if isinstance(customer, dict) else customer,
            stripe_created=int(dispute.get("created") or event_created),
            source_created=event_created,
            created_at=utcnow(),
            priority_explanation=[],
            recommendation_explanation=[],
            **fields,
        )
        session.add(case)  # inserted with the fields below, in one statement
        before = None
    else:
        if event_created < case.source_created:
            return case, False  # an older event never overwrites newer state
        if event_created == case.source_created and _progress(
            fields["status"], fields["submission_count"]
        ) < _progress(case.status, case.submission_count):
            fields["status"] = case.status
        before = audit_view(case)
        for key in ("amount_withdrawn", "amount_reinstated", "fee", "fee_reinstated"):
            fields[key] = max(fields[key], getattr(case, key))  # balance transactions only grow
        fields["submission_count"] = max(fields["submission_count"], case.submission_count)
        for key, value in fields.items():
            setattr(case, key, value)
        case.source_created = event_created
    if case.submission_count > 0 and case.submitted_at is None:
        case.submitted_at = datetime.fromtimestamp(event_created, UTC)
    if case.status in APPEAL_STATUSES and case.outcome is not None:
        case.outcome = case.closed_at = None  # an appeal reopens the decision
    if case.status in CLOSED_STATUSES and case.outcome is None:
        case.outcome = case.status
        case.closed_at = datetime.fromtimestamp(event_created, UTC)
    case.updated_at = utcnow()
    # A new case is assessed before it is written (it has no evidence items nor packets yet), so
    # it is inserted with its assessment: one INSERT instead of an INSERT and an UPDATE.
    assess(session, case, cfg, now)
    after = audit_view(case)
    # A new case's owner (and, for an unowned open case, its escalation time) are set before it
    # is first written, so the INSERT carries them instead of UPDATEs after it (the audit entry
    # records the case as it was assessed, as before).
    escalating = owner_at_creation(session, case, cfg) if created else False
    if before != after:
        audit.record(
            session,
            "system",
            "dispute.created" if created else "dispute.updated",
            f"dispute:{case.dispute_id}",
            before,
            after,
        )
    if created:
        session.flush()  # the reminders are keyed by the case's id
        on_new_dispute(session, case, cfg, now, tz=tz, mode=mode, escalating=escalating)
    return case, created


def _charge_id(dispute: dict[str, Any]) -> str | None:
    charge = dispute.get("charge")
    found = charge.get("id") if isinstance(charge, dict) else charge
    return found if isinstance(found, str) else None


_CASES = cast(Table, DisputeCase.__table__).c
_BATCH_CASES = select(
    _CASES.dispute_id, _CASES.id, _CASES.customer_id, _CASES.account, _CASES.reason, _CASES.outcome
).where(_CASES.dispute_id.in_(bindparam("ids", expanding=True)))


def _load_snapshots(session: Session, batch: list[EventContext], shared: dict[str, Any]) -> None:
    """Once per batch: the disputed charges and their customers (the case's, else the charge's),
    then the facts their evidence is built from (core/disputes/evidence/facts.py), for all the
    batch's disputes in a few queries instead of a dozen per event."""
    disputes = [e.obj for e in batch if e.type.startswith("charge.dispute.")]
    disputes = [d for d in disputes if d.get("object") == "dispute" and d.get("id")]
    if not disputes:
        return
    charges = load_snapshots(session, {c for c in map(_charge_id, disputes) if c})
    cases: dict[str, tuple[int, str | None]] = {}
    stored: dict[str, tuple[str, str, str | None]] = {}
    for dispute_id, case_id, customer_id, account, reason, outcome in session.execute(
        _BATCH_CASES, {"ids": sorted({str(d["id"]) for d in disputes})}
    ):
        cases[dispute_id] = (case_id, customer_id)
        stored[dispute_id] = (account, reason, outcome)
    named = {
        str(e.obj["id"]): (e.account or "", case_fields(e.obj)["reason"])
        for e in batch
        if e.type.startswith("charge.dispute.")
        and e.obj.get("object") == "dispute"
        and e.obj.get("id")
    }
    shared[HISTORY] = load_history(session, named, stored)
    customers: set[str] = {c for _, c in cases.values() if c}
    for text in charges.values():
        customer = orjson.loads(text).get("customer") if text else None
        if isinstance(customer, str):
            customers.add(customer)
    snapshots = shared[SNAPSHOTS] = charges | load_snapshots(session, customers - charges.keys())
    keys = []
    for dispute in disputes:
        charge_id = _charge_id(dispute)
        charge = orjson.loads(snapshots.get(charge_id or "") or "null") or {}
        case_id, customer_id = cases.get(str(dispute["id"]), (None, None))
        if case_id is None:
            owner = charge.get("customer")
            customer_id = owner.get("id") if isinstance(owner, dict) else owner
        customer = orjson.loads(snapshots.get(customer_id or "") or "null") or {}
        stub = DisputeCase(
            id=case_id, dispute_id=str(dispute["id"]), customer_id=customer_id, charge_id=charge_id
        )
        keys.append(fact_key(stub, charge, customer))
    new = {str(d["id"]) for d in disputes} - cases.keys()
    shared[FACTS] = load_facts(session, keys, new, detach=True)


def _config(event: EventContext) -> DisputeConfig:
    """The dispute config of the event's policy file, read once per batch."""
    key = f"disputes.config:{event.policy_file}"
    cfg = event.batch.get(key)
    if cfg is None:
        cfg = event.batch[key] = config(event.policy_file)
    return cfg


@handles("charge.dispute.*", prepare=_load_snapshots)
def on_dispute_event(session: Session, event: EventContext) -> None:
    """charge.dispute.created|updated|closed|funds_withdrawn|funds_reinstated → the case."""
    if event.obj.get("object") != "dispute" or not event.obj.get("id"):
        raise InputError(f"Event {event.event_id} carries no dispute object.")
    apply_dispute(
        session,
        event.obj,
        event_created=event.created,
        account=event.account,
        cfg=_config(event),
        tz=event.team_timezone,
        mode=event.settings.stripe_mode if event.settings else "sandbox",
    )


@handles("radar.early_fraud_warning.*")
def on_early_fraud_warning(session: Session, event: EventContext) -> None:
    """An actionable early fraud warning proposes a refund (an approval action)."""
    propose_efw_refund(
        session,
        event.obj,
        account=event.account,
        cfg=_config(event),
        policy=load_policy(event.policy_file),
    )
