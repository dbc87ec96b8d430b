"""What the recovery handlers read once per batch of events, instead of once per event.

Before a batch runs, `prepare` reads in bulk:
* the stored payments (`invoice_payment` objects) of the failed invoices that do not name
  their payment intent themselves (one query), so no failure looks them up alone;
* the stored cases of the batch's failed invoices and of its failed payments' intents (two);
* what updating their cases reads (core/recovery/cases.py): each failed invoice's latest
  terminal event (paid, voided, uncollectible), the latest failure event of each of their
  payment intents, their subscriptions' snapshots and their customers' CRM accounts (one query
  each). Events and snapshots are stored by the sync, never by a handler, and CRM accounts by
  the import, so nothing earlier in the batch changes them.

Then it walks the batch in order, as the handlers will, and decides:
* which failed charges / payment intents may belong to an invoice with a case when their
  turn comes (those naming their invoice, those whose intent a stored case holds or an earlier
  invoice failure of the batch links; after any event whose links cannot be foreseen, every
  one). The others have nothing to do: the handler would find no invoice.
* which invoice failures will fail for a missing object: their invoice names no payment, its
  payments are not stored, it has no case, and nothing earlier in the batch can open one. They
  are recorded as failed (the sync fetches the payments) without running, as the handler would
  have raised before writing anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import MissingObject
from core.models.recovery import RecoveryCase
from core.recovery.cases import FAILURE_TYPES, TERMINAL_TYPES
from core.recovery.context import CRM_ACCOUNTS, SUBSCRIPTIONS, load_accounts, load_objects
from core.recovery.linking import (
    INVOICE_PAYMENTS,
    PI_FAILED,
    PI_FAILURE_EVENTS,
    TERMINAL_EVENTS,
    invoice_payment_intent,
    latest_by_object,
    load_invoice_payments,
    names_its_payment,
    payment_intent_of,
)
from core.sync.invoice_shape import invoice_subscription_id
from core.sync.processing import FAILS_EARLY, EventContext

PAYMENT_FAILURE_TYPES = ("charge.failed", "payment_intent.payment_failed")
# EventContext.batch keys
PAYMENTS_TO_RUN = "recovery.payments_to_run"  # event ids of failed payments with work


def _in_chunks(session: Session, column: Any, wanted: Iterable[str], *cols: Any) -> list[Any]:
    listed = sorted(wanted)
    rows: list[Any] = []
    for i in range(0, len(listed), 500):
        rows.extend(session.execute(select(*cols).where(column.in_(listed[i : i + 500]))))
    return rows


def prepare(session: Session, batch: list[EventContext], shared: dict[str, Any]) -> None:
    """Bulk reads and the per-event decisions described in the module text."""
    failures = [e for e in batch if e.type in FAILURE_TYPES and e.obj.get("id")]
    intents = {payment_intent_of(e.obj) for e in batch if e.type in PAYMENT_FAILURE_TYPES}
    intents.discard(None)
    unnamed = {str(e.obj["id"]) for e in failures if not names_its_payment(e.obj)}
    if unnamed:
        shared[INVOICE_PAYMENTS] = load_invoice_payments(session, unnamed)
    cased = {
        str(inv_id)
        for (inv_id,) in _in_chunks(
            session,
            RecoveryCase.invoice_id,
            {str(e.obj["id"]) for e in failures},
            RecoveryCase.invoice_id,
        )
    }
    linked = {
        str(pi_id)
        for (pi_id,) in _in_chunks(
            session,
            RecoveryCase.payment_intent_id,
            {i for i in intents if i is not None},
            RecoveryCase.payment_intent_id,
        )
    }
    fails: dict[str, Exception] = {}
    run: set[str] = set()
    unforeseen = False  # an event ran whose links cannot be foreseen: every later one runs
    for e in batch:
        if e.type in PAYMENT_FAILURE_TYPES:
            if (
                unforeseen
                or isinstance(e.obj.get("invoice"), str)
                or payment_intent_of(e.obj) in linked
            ):
                run.add(e.event_id)
                unforeseen = True  # it reads its invoice's snapshot: its links are not foreseen
            continue
        if e.type not in FAILURE_TYPES or not e.obj.get("id"):
            continue
        inv_id = str(e.obj["id"])
        try:
            pi_id = invoice_payment_intent(session, e.obj, shared)
        except MissingObject as exc:
            if not unforeseen and inv_id not in cased:
                fails[e.event_id] = exc  # no case to update: the handler raises this first
            continue  # it fails, or updates a case without a new payment intent
        cased.add(inv_id)
        if pi_id is None:
            unforeseen = True  # its case takes the intent of its charge: not foreseen here
        else:
            linked.add(pi_id)
    shared.setdefault(FAILS_EARLY, {}).update(fails)
    shared[PAYMENTS_TO_RUN] = run
    _load_case_inputs(session, [e for e in failures if e.event_id not in fails], shared)


def _load_case_inputs(
    session: Session, failures: list[EventContext], shared: dict[str, Any]
) -> None:
    """What updating the cases of these invoice failures reads, in one query each."""
    if not failures:
        return
    intents: set[str] = set()
    for e in failures:
        try:
            pi_id = invoice_payment_intent(session, e.obj, shared)
        except MissingObject:
            continue
        if pi_id:
            intents.add(pi_id)
    shared[TERMINAL_EVENTS] = latest_by_object(
        session, {str(e.obj["id"]) for e in failures}, TERMINAL_TYPES
    )
    shared[PI_FAILURE_EVENTS] = latest_by_object(session, intents, PI_FAILED)
    subscriptions = {s for s in (invoice_subscription_id(e.obj) for e in failures) if s}
    shared[SUBSCRIPTIONS] = load_objects(session, subscriptions)
    customers = {e.obj["customer"] for e in failures if isinstance(e.obj.get("customer"), str)}
    emails = {
        e.obj["customer_email"].lower()
        for e in failures
        if isinstance(e.obj.get("customer_email"), str)
    }
    shared[CRM_ACCOUNTS] = load_accounts(session, customers, emails)


def payments_to_run(session: Session, batch: list[EventContext]) -> set[str]:
    """The failed payments `prepare` found may have work (relevance for their handler)."""
    return set(batch[0].batch.get(PAYMENTS_TO_RUN, ())) if batch else set()


def failing_early(event: EventContext) -> bool:
    """Whether `prepare` found this event fails without running (it opens no case)."""
    return event.event_id in event.batch.get(FAILS_EARLY, {})
