"""Recovery cases: one per invoice, opened by failures, closed by payment, void or cancellation.

The event handlers (core/recovery/handlers.py) call in here; all of it is idempotent and
order-independent:

* every event adds at most one timeline entry (unique per case and event id);
* invoice fields are only overwritten by an event at least as new as the last applied one;
* a failure processed after the invoice's `invoice.paid` (or void, or the subscription's
  cancellation) finds that terminal event in the store and closes the case at once, so a
  shuffled delivery never leaves an open case or an outstanding draft behind.

Classification, policy and drafting are pure modules; this one gathers their inputs.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import insert_ignore
from core.errors import NotFound
from core.governance import audit
from core.models.base import utcnow
from core.models.recovery import RecoveryCase, RecoveryTimelineEntry
from core.recovery.classification import FailureFacts, classify
from core.recovery.context import apply_policy, gather_context, recovery_settings
from core.recovery.drafts import ensure_auto_drafts, supersede_outstanding
from core.recovery.explain import failure_summary
from core.recovery.linking import (
    NOT_LOOKED_UP,
    PI_FAILED,
    PI_FAILURE_EVENTS,
    TERMINAL_EVENTS,
    decline_of,
    event_object,
    from_batch,
    invoice_payment_intent,
    latest_event,
    latest_events,
)
from core.sync.invoice_shape import invoice_subscription_id
from core.sync.processing import EventContext
from core.sync.snapshots import get_object

FAILURE_TYPES = ("invoice.payment_failed", "invoice.payment_action_required")
PAID_TYPES = ("invoice.paid", "invoice.payment_succeeded")
LOST_INVOICE_TYPES = ("invoice.voided", "invoice.marked_uncollectible")
SUB_CANCELED_TYPES = ("customer.subscription.deleted",)
TERMINAL_TYPES = PAID_TYPES + LOST_INVOICE_TYPES
TIMELINE = cast(Table, RecoveryTimelineEntry.__table__)
AUDIT_FIELDS = (
    "status",
    "bucket",
    "attempt_count",
    "escalated",
    "route",
    "closed_reason",
)


def _audit_view(case: RecoveryCase) -> dict[str, Any]:
    return {f: getattr(case, f) for f in AUDIT_FIELDS}


def get_case(session: Session, case_id: int) -> RecoveryCase:
    """One case by id, or NotFound."""
    case = session.get(RecoveryCase, case_id)
    if case is None:
        raise NotFound(f"Recovery case #{case_id} does not exist (it may have been removed).")
    return case


def case_for_invoice(session: Session, invoice_id: str) -> RecoveryCase | None:
    """The case of an invoice, if any."""
    return session.scalar(select(RecoveryCase).where(RecoveryCase.invoice_id == invoice_id))


def add_timeline(
    session: Session,
    case: RecoveryCase,
    source_key: str,
    kind: str,
    occurred_at: int,
    summary: str,
    *,
    attempt: int | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Add one timeline entry unless this source already added one; True when added.

    One INSERT that skips an entry the (case, source) unique key already holds: no look-up
    before it, no flush of the session after it."""
    row = {
        "case_id": case.id,
        "source_key": source_key,
        "kind": kind,
        "occurred_at": occurred_at,
        "attempt": attempt,
        "summary": summary,
        "details": details or {},
    }
    return insert_ignore(session, TIMELINE, [row], ("case_id", "source_key")) == 1


def _apply_invoice(case: RecoveryCase, inv: dict[str, Any], created: int) -> None:
    if created < case.last_event_created:
        return  # an older event: what a newer one set stands
    case.last_event_created = created
    case.amount_due = int(inv.get("amount_due") or case.amount_due or 0)
    case.amount_remaining = int(inv.get("amount_remaining", case.amount_remaining) or 0)
    case.currency = str(inv.get("currency") or case.currency)
    case.hosted_invoice_url = inv.get("hosted_invoice_url") or case.hosted_invoice_url
    case.next_payment_attempt = inv.get("next_payment_attempt")
    case.customer_email = inv.get("customer_email") or case.customer_email
    case.customer_name = inv.get("customer_name") or case.customer_name
    case.subscription_id = invoice_subscription_id(inv) or case.subscription_id


def open_or_update(session: Session, event: EventContext, inv: dict[str, Any]) -> RecoveryCase:
    """Open the invoice's case or add this failed attempt to it (idempotent)."""
    inv_id = str(inv["id"])
    case = case_for_invoice(session, inv_id)
    created_case = case is None
    pi_id: Any = NOT_LOOKED_UP
    if (
        case is None
        or (int(inv.get("attempt_count") or 0) or max(case.attempt_count, 1)) >= case.attempt_count
    ):
        # Read before anything is written: an invoice whose payments are not stored yet fails
        # the event here (MissingObject), not after a case and its savepoint were flushed.
        pi_id = invoice_payment_intent(session, inv, event.batch)
    if case is None:
        case = RecoveryCase(
            invoice_id=inv_id,
            account=event.account,
            customer_id=inv.get("customer") if isinstance(inv.get("customer"), str) else None,
            currency=str(inv.get("currency") or "usd"),
            amount_due=0,
            amount_remaining=0,
            status="open",
            first_failed_at=event.created,
            last_event_created=0,
            decline={},
            risk_signals=[],
            rule_hits=[],
            missing_context=[],
        )
        try:
            with session.begin_nested():  # a concurrent twin for the same invoice loses cleanly
                session.add(case)
                session.flush()
        except IntegrityError:
            case = case_for_invoice(session, inv_id)
            assert case is not None
            created_case = False
    with session.no_autoflush:  # the case is written once, not before every read below
        _update_case(session, case, event, inv, pi_id, created_case)
    return case


def _update_case(
    session: Session,
    case: RecoveryCase,
    event: EventContext,
    inv: dict[str, Any],
    pi_id: Any,
    created_case: bool,
) -> None:
    inv_id = case.invoice_id
    before = None if created_case else _audit_view(case)
    case.first_failed_at = min(case.first_failed_at, event.created)
    _apply_invoice(case, inv, event.created)
    attempt = int(inv.get("attempt_count") or 0) or max(case.attempt_count, 1)
    newest_attempt = attempt >= case.attempt_count
    case.attempt_count = max(case.attempt_count, attempt)
    # The invoice's terminal event and its payment intent's failure, in one read.
    known_pi = newest_attempt and pi_id is not NOT_LOOKED_UP
    asked_pi = pi_id if known_pi else None
    done = from_batch(event.batch, TERMINAL_EVENTS, inv_id)
    pi_event = from_batch(event.batch, PI_FAILURE_EVENTS, asked_pi) if asked_pi else None
    if done is NOT_LOOKED_UP or pi_event is NOT_LOOKED_UP:  # not read by the batch: one read
        done, pi_event = latest_events(session, [(inv_id, TERMINAL_TYPES), (asked_pi, PI_FAILED)])
    if newest_attempt:
        decline = decline_of(session, inv, event, pi_id, pi_event if known_pi else NOT_LOOKED_UP)
        case.payment_intent_id = decline.pop("payment_intent_id") or case.payment_intent_id
        case.charge_id = decline.pop("charge_id") or case.charge_id
        case.first_failed_at = min(case.first_failed_at, int(decline.pop("failed_at")))
        result = classify(facts_from_decline(decline))
        case.bucket, case.raw_code, case.decline = (
            str(result.bucket),
            result.raw_code,
            decline,
        )
    if case.status == "recovered" and case.closed_at is not None:
        # A failure delivered after the payment may move the first failure earlier.
        case.seconds_to_recover = max(0, case.closed_at - case.first_failed_at)
    add_timeline(
        session,
        case,
        event.event_id,
        "attempt_failed" if event.type in FAILURE_TYPES else event.type,
        event.created,
        f"Attempt {attempt} failed: {failure_summary(case.bucket, case.raw_code)}",
        attempt=attempt,
    )
    key = f"recovery.settings:{event.policy_file}"  # read once per batch
    cfg, version = event.batch.get(key) or event.batch.setdefault(
        key, recovery_settings(event.policy_file)
    )
    sub: Any = NOT_LOOKED_UP
    if case.status == "open":
        ctx = gather_context(session, case, cfg, event.batch)
        sub = ctx.subscription if case.subscription_id else NOT_LOOKED_UP
        apply_policy(session, case, ctx, cfg, version)
    case.updated_at = utcnow()
    audit.record(
        session,
        "system",
        "recovery.case_opened" if created_case else "recovery.case_updated",
        f"invoice:{inv_id}",
        before,
        _audit_view(case),
    )
    close_if_settled(session, case, done, sub)
    if case.status == "open":
        ensure_auto_drafts(session, case, cfg)


def facts_from_decline(decline: dict[str, Any]) -> Any:
    """The stored decline dict back as FailureFacts."""
    return FailureFacts(**{k: decline.get(k) for k in FailureFacts.__dataclass_fields__})


def close_case(
    session: Session,
    case: RecoveryCase,
    status: str,
    reason: str,
    at: int,
    source_key: str,
    *,
    amount: int | None = None,
) -> None:
    """Close a case as recovered or lost, supersede its drafts and pending messages."""
    add_timeline(
        session,
        case,
        source_key,
        reason,
        at,
        "Paid" if status == "recovered" else f"Lost: {reason.replace('_', ' ')}",
    )
    if case.status != "open":
        return
    before = _audit_view(case)
    case.status, case.closed_reason, case.closed_at = status, reason, at
    if status == "recovered":
        case.recovered_amount = amount if amount is not None else case.amount_remaining
        case.seconds_to_recover = max(0, at - case.first_failed_at)
        case.amount_remaining = 0
    case.updated_at = utcnow()
    supersede_outstanding(session, case, f"case {status}: {reason.replace('_', ' ')}")
    audit.record(
        session,
        "system",
        f"recovery.case_{status}",
        f"invoice:{case.invoice_id}",
        before,
        _audit_view(case),
    )


def close_if_settled(
    session: Session, case: RecoveryCase, done: Any = NOT_LOOKED_UP, sub: Any = NOT_LOOKED_UP
) -> None:
    """Close the case when the store already holds its invoice's terminal event (`done`, and
    `sub` its subscription's snapshot, when the caller read them already)."""
    if done is NOT_LOOKED_UP:
        done = latest_event(session, case.invoice_id, TERMINAL_TYPES)
    if done is not None and done.type in PAID_TYPES:
        inv = event_object(done) or {}
        amount = int(inv.get("amount_paid") or 0) or None
        close_case(session, case, "recovered", "paid", done.created, done.event_id, amount=amount)
        return
    if done is not None:
        reason = "voided" if done.type == "invoice.voided" else "uncollectible"
        close_case(session, case, "lost", reason, done.created, done.event_id)
        return
    if sub is NOT_LOOKED_UP:
        sub = get_object(session, case.subscription_id) if case.subscription_id else None
    if sub is not None and sub.get("status") == "canceled":
        ended = latest_event(session, case.subscription_id, SUB_CANCELED_TYPES)
        at = ended.created if ended else int(sub.get("canceled_at") or case.last_event_created)
        key = ended.event_id if ended else f"subscription:{sub['id']}:canceled"
        close_case(session, case, "lost", "subscription_canceled", at, key)
