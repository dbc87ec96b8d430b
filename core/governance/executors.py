"""Governance's executors, one per action type: re-read Stripe, supersede when the world has
changed, otherwise call Stripe with the action's idempotency key. (Submitting dispute evidence
belongs to the disputes domain: core/disputes/submission.py.)

On a retry (an earlier attempt may have reached Stripe) while Stripe still remembers the key,
prechecks are skipped and the same request is re-sent: Stripe replays the first answer. Past
that window, the object tagged with our metadata is looked up instead of writing again.
"""

from __future__ import annotations

from typing import Any

from core.adapters.outbox import enqueue_chat, enqueue_email
from core.errors import InputError, StripeRequestError
from core.governance import audit
from core.governance.executor import METADATA_IDEMPOTENCY, ExecutionContext, executor
from core.governance.policy import load_policy
from core.governance.queries import approvals_of
from core.governance.states import ActionType
from core.money import format_money

T = ActionType
OPEN_DISPUTE = ("needs_response", "warning_needs_response")
_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _param(ctx: ExecutionContext, name: str, default: Any = None) -> Any:
    return ctx.action.params.get(name, default)


def _charge_id(ctx: ExecutionContext) -> str:
    charge = _param(ctx, "charge") or (
        ctx.action.target_id if ctx.action.target_id.startswith("ch_") else None
    )
    if charge:
        return str(charge)
    intent = _param(ctx, "payment_intent") or ctx.action.target_id
    if str(intent).startswith("pi_"):
        latest = ctx.gateway.retrieve("payment_intents", str(intent)).get("latest_charge")
        if latest:
            return str(latest if isinstance(latest, str) else latest["id"])
    raise InputError(f"Refund action #{ctx.action.id} names no charge or payment intent.")


def _refund_result(refund: dict[str, Any], note: str = "") -> dict[str, Any]:
    if refund.get("status") in ("failed", "canceled"):
        raise StripeRequestError(
            f"Stripe created refund {refund['id']} but it is {refund['status']}"
            f" ({refund.get('failure_reason') or 'no reason given'})."
        )
    money = format_money(refund.get("amount"), refund.get("currency"))
    return {
        "summary": f"Refunded {money} as {refund['id']} ({refund.get('status')}){note}",
        "refund": refund["id"],
        "amount": refund.get("amount"),
        "status": refund.get("status"),
    }


def _check_approvals_against_stripe(
    ctx: ExecutionContext, amount: int, currency: Any, what: str = "charge"
) -> None:
    """The approvals must cover what Stripe says will move, not what the request said: a
    refund without an amount is the charge's whole refundable remainder, a dispute accepted
    loses its whole amount, and the currency is Stripe's. Fewer approvers than the policy needs
    for that, or another currency: stop."""
    asked = _param(ctx, "currency")
    if asked and currency and str(asked).lower() != str(currency).lower():
        ctx.supersede(
            f"The request says {str(asked).upper()} but the {what} is in "
            f"{str(currency).upper()}; request again in the {what}'s currency."
        )
    rules = load_policy(ctx.settings.policy_file).for_action(ctx.action.action_type)
    needed = rules.required_approvals(amount, str(currency or ""))
    approvers = {
        a.username
        for a in approvals_of(ctx.session, ctx.action.id)
        if a.decision == "approve" and a.username != ctx.action.requested_by
    }
    if needed > min(ctx.action.required_approvals, len(approvers)):
        limit = rules.threshold(str(currency or ""))
        moved = "refunded" if what == "charge" else "lost by accepting the dispute"
        ctx.supersede(
            f"{format_money(amount, currency)} would be {moved}, above the "
            f"{format_money(limit, currency)} that one approver may allow; request it again "
            "with the amount so that two approvers decide."
        )


@executor(T.REFUND, default=True)
def refund(ctx: ExecutionContext) -> dict[str, Any]:
    """Refund a charge in full or in part."""
    charge_id = _charge_id(ctx)
    amount = _param(ctx, "amount")
    ours = ctx.gateway.find_refund_by_metadata(
        METADATA_IDEMPOTENCY, ctx.idempotency_key, charge=charge_id
    )
    if ours is not None and not ctx.key_is_fresh:
        return _refund_result(ours, "; found from an earlier attempt")
    if ours is None:
        charge = ctx.gateway.retrieve("charges", charge_id)
        remaining = int(charge.get("amount", 0)) - int(charge.get("amount_refunded", 0))
        currency = charge.get("currency")
        if charge.get("refunded") or remaining <= 0:
            ctx.supersede(
                f"Charge {charge_id} was already fully refunded; nothing is left to refund."
            )
        if amount is not None and amount > remaining:
            ctx.supersede(
                f"Only {format_money(remaining, currency)} of {charge_id} is still refundable "
                f"(someone refunded part of it meanwhile); request a new amount."
            )
        if charge.get("disputed"):
            ctx.supersede(
                f"Charge {charge_id} is disputed now; answer the dispute instead of refunding."
            )
        _check_approvals_against_stripe(ctx, amount if amount is not None else remaining, currency)
    reason = _param(ctx, "stripe_reason") or _param(ctx, "refund_reason")
    created = ctx.gateway.create_refund(
        idempotency_key=ctx.idempotency_key,
        charge=charge_id,
        amount=amount,
        reason=reason if reason in _REFUND_REASONS else None,
        metadata=ctx.metadata,
    )
    return _refund_result(created)


@executor(T.CUSTOMER_CREDIT, default=True)
def customer_credit(ctx: ExecutionContext) -> dict[str, Any]:
    """Credit the customer's balance (applied to their next invoices)."""
    customer = str(_param(ctx, "customer") or ctx.action.target_id)
    amount, currency = _param(ctx, "amount"), _param(ctx, "currency")
    if not isinstance(amount, int) or amount <= 0 or not currency:
        raise InputError("A customer credit needs a positive amount (cents) and a currency.")
    if ctx.is_retry and not ctx.key_is_fresh:
        # Stripe has forgotten the key (24 h): look for the credit an earlier attempt made.
        ours = ctx.gateway.find_customer_credit_by_metadata(
            customer, METADATA_IDEMPOTENCY, ctx.idempotency_key
        )
        if ours is not None:
            return {
                "summary": f"Credited {format_money(amount, currency)} to {customer} "
                f"({ours.get('id')}); found from an earlier attempt",
                "balance_transaction": ours.get("id"),
                "ending_balance": ours.get("ending_balance"),
            }
    if not (ctx.is_retry and ctx.key_is_fresh):
        found = ctx.gateway.retrieve("customers", customer)
        if found.get("deleted"):
            ctx.supersede(f"Customer {customer} was deleted.")
    txn = ctx.gateway.create_customer_balance_transaction(
        customer,
        amount=-amount,
        currency=currency,
        idempotency_key=ctx.idempotency_key,
        description=_param(ctx, "description") or ctx.action.reason[:300],
        metadata=ctx.metadata,
    )
    return {
        "summary": f"Credited {format_money(amount, currency)} to {customer} ({txn.get('id')})",
        "balance_transaction": txn.get("id"),
        "ending_balance": txn.get("ending_balance"),
    }


@executor(T.SEND_MESSAGE, default=True)
def send_message(ctx: ExecutionContext) -> dict[str, Any]:
    """Queue an approved customer email in the outbox (delivery is the outbox job's)."""
    invoice = _param(ctx, "invoice") or (
        ctx.action.target_id if ctx.action.target_id.startswith("in_") else None
    )
    if invoice:
        status = ctx.gateway.retrieve("invoices", str(invoice)).get("status")
        if status in ("paid", "void", "uncollectible"):
            ctx.supersede(
                f"Invoice {invoice} is '{status}' now, so the message is no longer needed."
            )
    to, subject, body = _param(ctx, "to"), _param(ctx, "subject"), _param(ctx, "body")
    if not (to and subject and body):
        raise InputError("A message needs a recipient (to), a subject and a body.")
    msg = enqueue_email(
        ctx.session,
        str(to),
        str(subject),
        str(body),
        f"action:{ctx.action.id}",
        related=ctx.action.target_id,
    )
    return {
        "summary": f"Queued the email to {to} (outbox #{msg.id})",
        "outbox_id": msg.id,
    }


def _open_dispute(ctx: ExecutionContext) -> dict[str, Any]:
    dispute = ctx.gateway.retrieve("disputes", str(_param(ctx, "dispute") or ctx.action.target_id))
    if ctx.is_retry and ctx.key_is_fresh:
        return dispute
    status = dispute.get("status")
    if status not in OPEN_DISPUTE:
        ctx.supersede(f"Dispute {dispute['id']} is '{status}' now, no longer awaiting a response.")
    due_by = (dispute.get("evidence_details") or {}).get("due_by") or 0
    if not due_by or due_by < ctx.now.timestamp():
        ctx.supersede(f"The response deadline of dispute {dispute['id']} has passed.")
    return dispute


@executor(T.ACCEPT_DISPUTE, default=True)
def accept_dispute(ctx: ExecutionContext) -> dict[str, Any]:
    """Accept the dispute as lost (POST /close); cannot be undone.

    The approvals needed come from the dispute's amount as Stripe reports it now. Past Stripe's
    key window, a dispute already lost is what an earlier attempt did: done, not closed again."""
    dispute_id = str(_param(ctx, "dispute") or ctx.action.target_id)
    if ctx.is_retry and not ctx.key_is_fresh:
        seen = ctx.gateway.retrieve("disputes", dispute_id)
        if seen.get("status") == "lost":
            return {
                "summary": f"Dispute {dispute_id} is already lost (accepted by an earlier "
                "attempt); nothing sent again",
                "dispute": dispute_id,
                "status": "lost",
            }
    dispute = _open_dispute(ctx)
    if not (ctx.is_retry and ctx.key_is_fresh):
        _check_approvals_against_stripe(
            ctx, int(dispute.get("amount") or 0), dispute.get("currency"), "dispute"
        )
    closed = ctx.gateway.close_dispute(dispute["id"], idempotency_key=ctx.idempotency_key)
    return {
        "summary": f"Accepted dispute {closed['id']}; it is now {closed.get('status')}",
        "dispute": closed["id"],
        "status": closed.get("status"),
    }


@executor(T.CANCEL_SUBSCRIPTION, default=True)
def cancel_subscription(ctx: ExecutionContext) -> dict[str, Any]:
    """Cancel a subscription now."""
    sub_id = str(_param(ctx, "subscription") or ctx.action.target_id)
    if not (ctx.is_retry and ctx.key_is_fresh):
        status = ctx.gateway.retrieve("subscriptions", sub_id).get("status")
        if status == "canceled" and ctx.is_retry:
            # Stripe forgot the key; an earlier attempt (whose answer was lost) canceled it.
            return {
                "summary": f"{sub_id} is already canceled (by an earlier attempt or meanwhile); "
                "nothing sent again",
                "subscription": sub_id,
                "status": status,
            }
        if status in ("canceled", "incomplete_expired"):
            ctx.supersede(f"Subscription {sub_id} is already '{status}'.")
    sub = ctx.gateway.cancel_subscription(
        sub_id,
        idempotency_key=ctx.idempotency_key,
        invoice_now=bool(_param(ctx, "invoice_now", False)),
        prorate=bool(_param(ctx, "prorate", False)),
    )
    return {
        "summary": f"Canceled {sub_id}; it is now {sub.get('status')}",
        "subscription": sub_id,
        "status": sub.get("status"),
    }


@executor(T.RETRY_INVOICE_PAYMENT, default=True)
def retry_invoice_payment(ctx: ExecutionContext) -> dict[str, Any]:
    """Try to collect an open invoice now; a decline fails the action with Stripe's message."""
    invoice_id = str(_param(ctx, "invoice") or ctx.action.target_id)
    if not (ctx.is_retry and ctx.key_is_fresh):
        found = ctx.gateway.retrieve("invoices", invoice_id)
        status = found.get("status")
        if status == "paid" and ctx.is_retry:
            # Stripe forgot the key; the invoice is paid, by an earlier attempt or meanwhile.
            return {
                "summary": f"Invoice {invoice_id} is already paid; nothing collected again",
                "invoice": invoice_id,
                "status": status,
                "amount_paid": found.get("amount_paid"),
            }
        if status != "open":
            ctx.supersede(
                f"Invoice {invoice_id} is '{status}' now, so there is nothing to collect."
            )
    invoice = ctx.gateway.pay_invoice(invoice_id, idempotency_key=ctx.idempotency_key)
    return {
        "summary": f"Invoice {invoice_id} is now {invoice.get('status')}",
        "invoice": invoice_id,
        "status": invoice.get("status"),
        "amount_paid": invoice.get("amount_paid"),
    }


def _entitlement(ctx: ExecutionContext, state: str) -> dict[str, Any]:
    customer = str(_param(ctx, "customer") or ctx.action.target_id)
    # Recorded for the product's own systems to pick up; Stripe is not involved.
    audit.record(
        ctx.session,
        ctx.actor,
        f"entitlement.{state}",
        f"customer:{customer}",
        None,
        {"action": ctx.action.id, "state": state, "scope": _param(ctx, "scope", "all")},
    )
    return {
        "summary": f"Access {state} for {customer}",
        "customer": customer,
        "entitlement": state,
    }


@executor(T.PAUSE_ACCESS, default=True)
def pause_access(ctx: ExecutionContext) -> dict[str, Any]:
    """Record that the customer's access is paused."""
    return _entitlement(ctx, "paused")


@executor(T.RESTORE_ACCESS, default=True)
def restore_access(ctx: ExecutionContext) -> dict[str, Any]:
    """Record that the customer's access is restored."""
    return _entitlement(ctx, "restored")


@executor(T.CREATE_TASK, default=True)
def create_task(ctx: ExecutionContext) -> dict[str, Any]:
    """An internal to-do; the action itself is the task record."""
    title = str(_param(ctx, "title") or ctx.action.reason)
    return {
        "summary": f"Task created: {title}",
        "task": title,
        "assignee": _param(ctx, "assignee"),
    }


@executor(T.ADD_NOTE, default=True)
def add_note(ctx: ExecutionContext) -> dict[str, Any]:
    """An internal note on a Stripe object."""
    text = str(_param(ctx, "text") or ctx.action.reason)
    return {"summary": "Note added", "note": text}


@executor(T.NOTIFY_CHANNEL, default=True)
def notify_channel(ctx: ExecutionContext) -> dict[str, Any]:
    """Post an internal alert to the team channel (through the outbox)."""
    text = str(_param(ctx, "text") or ctx.action.reason)
    msg = enqueue_chat(ctx.session, text, f"action:{ctx.action.id}")
    return {"summary": f"Alert queued (outbox #{msg.id})", "outbox_id": msg.id}
