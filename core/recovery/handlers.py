"""The recovery domain's event handlers: failures open or update a case; payment, void,
uncollectible and cancellation close it (see core/recovery/cases.py for the guarantees)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models.recovery import RecoveryCase
from core.recovery.batch import PAYMENT_FAILURE_TYPES, failing_early, payments_to_run, prepare
from core.recovery.cases import (
    FAILURE_TYPES,
    LOST_INVOICE_TYPES,
    PAID_TYPES,
    case_for_invoice,
    close_case,
    open_or_update,
)
from core.recovery.linking import invoice_of_payment
from core.sync.processing import EventContext, handles
from core.sync.snapshots import get_object


@handles(*FAILURE_TYPES, prepare=prepare)
def on_invoice_failure(session: Session, event: EventContext) -> None:
    """A failed attempt (or one waiting for authentication) opens or updates the case."""
    if event.obj.get("id"):
        open_or_update(session, event, event.obj)


@handles(*PAYMENT_FAILURE_TYPES, prepare=prepare, relevant=payments_to_run)
def on_payment_failure(session: Session, event: EventContext) -> None:
    """A failed charge / payment intent of an invoice: open or refresh that invoice's case."""
    inv_id = invoice_of_payment(session, event.obj)
    if inv_id is None:
        return  # not (yet) known to belong to an invoice: the invoice's own event links it
    inv = get_object(session, inv_id)
    if inv is None or inv.get("status") == "draft":
        return
    open_or_update(session, event, inv)


def _invoices_with_cases(session: Session, batch: list[EventContext]) -> set[str]:
    """The paid/lost events (by id) about an invoice that has a case or may get one in this batch.

    One query per batch for the cases stored already; plus the invoices this batch's own failure
    events may open a case for (an invoice failure that does not fail early, or a failed payment
    naming its invoice; one found through an existing case is among the stored ones).
    """
    mine = [e for e in batch if e.type in PAID_TYPES + LOST_INVOICE_TYPES]
    listed = sorted({e.object_key for e in mine})
    found: set[str] = set()
    for i in range(0, len(listed), 500):
        found.update(
            session.scalars(
                select(RecoveryCase.invoice_id).where(
                    RecoveryCase.invoice_id.in_(listed[i : i + 500])
                )
            )
        )
    for e in batch:
        if e.type in FAILURE_TYPES and not failing_early(e):
            found.add(e.object_key)
        elif e.type in PAYMENT_FAILURE_TYPES and isinstance(e.obj.get("invoice"), str):
            found.add(e.obj["invoice"])
    return {e.event_id for e in mine if e.object_key in found}


SUBSCRIPTION_END_TYPES = ("customer.subscription.deleted", "customer.subscription.updated")


def _canceled(session: Session, batch: list[EventContext]) -> set[str]:
    """Only a canceled subscription can close cases (a payload that does not mention
    "canceled" is not decoded)."""
    return {
        e.event_id
        for e in batch
        if e.type in SUBSCRIPTION_END_TYPES
        and e.mentions('"canceled"')
        and e.obj.get("status") == "canceled"
    }


@handles(*PAID_TYPES, relevant=_invoices_with_cases, payload_after_relevance=True)
def on_invoice_paid(session: Session, event: EventContext) -> None:
    """Payment closes the case as recovered, with the amount and time to recover."""
    case = case_for_invoice(session, str(event.obj.get("id")))
    if case is not None:
        close_case(
            session,
            case,
            "recovered",
            "paid",
            event.created,
            event.event_id,
            amount=int(event.obj.get("amount_paid") or 0) or None,
        )


@handles(*LOST_INVOICE_TYPES, relevant=_invoices_with_cases, payload_after_relevance=True)
def on_invoice_lost(session: Session, event: EventContext) -> None:
    """A voided or uncollectible invoice closes its case as lost."""
    case = case_for_invoice(session, str(event.obj.get("id")))
    if case is not None:
        reason = "voided" if event.type == "invoice.voided" else "uncollectible"
        close_case(session, case, "lost", reason, event.created, event.event_id)


@handles(*SUBSCRIPTION_END_TYPES, relevant=_canceled)
def on_subscription_canceled(session: Session, event: EventContext) -> None:
    """A canceled subscription closes its open cases as lost; nothing is sent afterwards."""
    if event.obj.get("status") != "canceled":
        return
    cases = session.scalars(
        select(RecoveryCase).where(
            RecoveryCase.subscription_id == event.obj.get("id"),
            RecoveryCase.status == "open",
        )
    ).all()
    for case in cases:
        close_case(
            session,
            case,
            "lost",
            "subscription_canceled",
            event.created,
            event.event_id,
        )
