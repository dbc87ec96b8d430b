"""Money flows shared by the generator, the write endpoints and live mode.

Each flow updates the objects involved and emits the events Stripe emits, in order.
"""

from __future__ import annotations

import random
from typing import Any

from sandbox import declines, objects
from sandbox.store import Account, Obj

DISPUTE_FEE = 1500
RETRY_DAYS = (3, 5, 7)  # Smart Retries style spacing; 4 attempts in all
Req = tuple[
    str | None, str | None
]  # (request id, idempotency key) for events caused by an API call
NO_REQ: Req = (None, None)


def fee_for(amount: int) -> int:
    """Stripe's card pricing: 2.9% + 30c."""
    return round(amount * 0.029) + 30


def _emit(
    a: Account, etype: str, obj: Obj, when: int, req: Req, previous: dict[str, Any] | None = None
) -> None:
    a.emit(etype, obj, created=when, previous=previous, request_id=req[0], idempotency_key=req[1])


def set_sub_status(
    a: Account, sub_id: str, status: str, when: int, req: Req = NO_REQ, **extra: Any
) -> Obj:
    """Move a subscription to a new status with its `.updated`/`.deleted` event."""
    sub = a.objects[sub_id]
    previous = {"status": sub["status"], **{k: sub.get(k) for k in extra}}
    new = a.update(sub_id, status=status, **extra)
    if status == "canceled":
        _emit(a, "customer.subscription.deleted", new, when, req)
    else:
        _emit(a, "customer.subscription.updated", new, when, req, previous)
    return new


def card_for(a: Account, cust: Obj, when: int | None = None) -> dict[str, Any]:
    """The card the customer had saved at `when` (now by default), from hidden metadata."""
    cards = a.meta[cust["id"]]["cards"]
    if when is None:
        return cards[-1][1]
    chosen = cards[0][1]
    for since, card in cards:
        if since <= when:
            chosen = card
    return chosen


def attempt_invoice_payment(
    a: Account,
    inv_id: str,
    when: int,
    decline: str | None,
    rng: random.Random,
    req: Req = NO_REQ,
) -> dict[str, Any]:
    """One payment attempt on an open invoice; returns the ids created."""
    inv = a.objects[inv_id]
    cust = a.objects[inv["customer"]]
    card = card_for(a, cust, when)
    pay_id = a.meta[inv_id].get("invoice_payment")
    if pay_id is None:
        pi = a.add(
            objects.payment_intent(
                a,
                created=when,
                amount=inv["amount_due"],
                customer_id=cust["id"],
                description="Subscription update",
            ),
            invoice=inv_id,
        )
        pay = a.add(
            objects.invoice_payment(a, inv=inv, pi_id=pi["id"], created=when), invoice=inv_id
        )
        a.meta[inv_id]["invoice_payment"] = pay["id"]
    else:
        pi = a.objects[a.objects[pay_id]["payment"]["payment_intent"]]
    amount = inv["amount_remaining"]
    risk = rng.randint(5, 95) if decline == "fraudulent" else rng.randint(5, 60)
    ch = a.add(
        objects.charge(
            a,
            created=when,
            amount=amount,
            customer_id=cust["id"],
            pi_id=pi["id"],
            card=card,
            outcome=declines.outcome(decline, risk),
            failure=declines.failure(decline) if decline else None,
            description="Subscription update",
        ),
        invoice=inv_id,
    )
    attempts = inv["attempt_count"] + 1
    sub_id = ((inv.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    result: dict[str, Any] = {"charge": ch["id"], "payment_intent": pi["id"], "invoice": inv_id}
    if decline is None:
        fee = fee_for(amount)
        bt = a.add(
            objects.balance_transaction(
                a,
                created=when,
                amount=amount,
                fee=fee,
                type_="charge",
                category="charge",
                source=ch["id"],
                description="Subscription update",
            )
        )
        ch = a.update(ch["id"], balance_transaction=bt["id"])
        _emit(a, "charge.succeeded", ch, when, req)
        pi = a.update(
            pi["id"],
            status="succeeded",
            amount_received=amount,
            latest_charge=ch["id"],
            payment_method=card["pm"],
            last_payment_error=None,
            next_action=None,
        )
        _emit(a, "payment_intent.succeeded", pi, when, req)
        pay = a.objects[a.meta[inv_id]["invoice_payment"]]
        a.update(
            pay["id"],
            status="paid",
            amount_paid=amount,
            status_transitions={"canceled_at": None, "paid_at": when},
        )
        inv = a.update(
            inv_id,
            status="paid",
            amount_paid=inv["amount_paid"] + amount,
            amount_remaining=0,
            attempted=True,
            attempt_count=attempts,
            next_payment_attempt=None,
            status_transitions={**inv["status_transitions"], "paid_at": when},
        )
        _emit(a, "invoice.paid", inv, when, req)
        _emit(a, "invoice.payment_succeeded", inv, when, req)
        if sub_id and a.objects[sub_id]["status"] in (
            "past_due",
            "unpaid",
            "incomplete",
            "trialing",
        ):
            set_sub_status(a, sub_id, "active", when, req)
        a.meta[cust["id"]].pop("last_decline", None)
        result.update(status="paid", balance_transaction=bt["id"])
        return result
    _emit(a, "charge.failed", ch, when, req)
    a.meta[cust["id"]]["last_decline"] = decline
    error = declines.last_payment_error(decline, ch["id"], a.objects[card["pm"]])
    if decline == "authentication_required":
        pi = a.update(
            pi["id"],
            status="requires_action",
            latest_charge=ch["id"],
            last_payment_error=error,
            next_action={
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            },
        )
    else:
        pi = a.update(
            pi["id"],
            status="requires_payment_method",
            latest_charge=ch["id"],
            last_payment_error=error,
            next_action=None,
        )
    _emit(a, "payment_intent.payment_failed", pi, when, req)
    next_attempt = when + RETRY_DAYS[attempts - 1] * 86400 if attempts <= len(RETRY_DAYS) else None
    inv = a.update(
        inv_id, attempted=True, attempt_count=attempts, next_payment_attempt=next_attempt
    )
    if decline == "authentication_required":
        _emit(a, "invoice.payment_action_required", inv, when, req)
    _emit(a, "invoice.payment_failed", inv, when, req)
    if sub_id and a.objects[sub_id]["status"] in ("active", "trialing"):
        set_sub_status(a, sub_id, "past_due", when, req)
    result.update(status="failed", decline_code=decline, next_payment_attempt=next_attempt)
    return result


def refund_charge(
    a: Account,
    ch_id: str,
    amount: int,
    when: int,
    *,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
    req: Req = NO_REQ,
) -> Obj:
    """Refund part or all of a charge: refund, balance transaction, charge update, events."""
    ch = a.objects[ch_id]
    re = a.add(
        objects.refund(
            a, created=when, ch=ch, amount=amount, reason=reason, metadata=metadata or {}
        )
    )
    bt = a.add(
        objects.balance_transaction(
            a,
            created=when,
            amount=-amount,
            fee=0,
            type_="refund",
            category="refund",
            source=re["id"],
            description="REFUND FOR CHARGE",
        )
    )
    re = a.update(re["id"], balance_transaction=bt["id"])
    refunded = ch["amount_refunded"] + amount
    refunds = objects.sublist(ch["refunds"]["url"], [re] + list(ch["refunds"]["data"]))
    previous = {
        "amount_refunded": ch["amount_refunded"],
        "refunded": ch["refunded"],
        "refunds": ch["refunds"],
    }
    ch = a.update(
        ch_id, amount_refunded=refunded, refunded=refunded >= ch["amount"], refunds=refunds
    )
    _emit(a, "charge.refunded", ch, when, req, previous)
    _emit(a, "refund.created", re, when, req)
    return re


def open_dispute(
    a: Account,
    ch_id: str,
    when: int,
    *,
    reason: str,
    status: str,
    due_by: int,
    case_type: str,
    network_reason_code: str | None,
    req: Req = NO_REQ,
) -> Obj:
    """Open a dispute; chargebacks withdraw the amount plus the dispute fee."""
    ch = a.objects[ch_id]
    dp = a.add(
        objects.dispute(
            a,
            created=when,
            ch=ch,
            reason=reason,
            status=status,
            due_by=due_by,
            network_reason_code=network_reason_code,
            case_type=case_type,
        )
    )
    a.update(ch_id, disputed=True)
    _emit(a, "charge.dispute.created", dp, when, req)
    if case_type == "chargeback":
        bt = a.add(
            objects.balance_transaction(
                a,
                created=when,
                amount=-ch["amount"],
                fee=DISPUTE_FEE,
                type_="adjustment",
                category="dispute",
                source=dp["id"],
                description=f"Chargeback withdrawal for {ch_id}",
            )
        )
        dp = a.update(dp["id"], balance_transactions=[bt])
        _emit(a, "charge.dispute.funds_withdrawn", dp, when, req)
    return dp


def close_dispute(a: Account, dp_id: str, status: str, when: int, req: Req = NO_REQ) -> Obj:
    """Resolve a dispute (won / lost / warning_closed); a won chargeback reinstates the funds."""
    dp = a.objects[dp_id]
    previous = {"status": dp["status"]}
    changes: dict[str, Any] = {"status": status, "is_charge_refundable": False}
    if status == "won" and dp["balance_transactions"]:
        bt = a.add(
            objects.balance_transaction(
                a,
                created=when,
                amount=dp["amount"],
                fee=-DISPUTE_FEE,
                type_="adjustment",
                category="dispute_reversal",
                source=dp_id,
                description="Chargeback reversal",
            )
        )
        changes["balance_transactions"] = list(dp["balance_transactions"]) + [bt]
    dp = a.update(dp_id, **changes)
    _emit(a, "charge.dispute.closed", dp, when, req, previous)
    if "balance_transactions" in changes:
        _emit(a, "charge.dispute.funds_reinstated", dp, when, req)
    return dp


def early_fraud_warning(
    a: Account, ch_id: str, when: int, fraud_type: str, req: Req = NO_REQ
) -> Obj:
    """Raise an early fraud warning on a charge."""
    efw = a.add(
        objects.early_fraud_warning(a, created=when, ch=a.objects[ch_id], fraud_type=fraud_type)
    )
    _emit(a, "radar.early_fraud_warning.created", efw, when, req)
    return efw


def pay_out(
    a: Account,
    bt_ids: list[str],
    when: int,
    *,
    automatic: bool = True,
    fail: bool = False,
    amount: int | None = None,
    req: Req = NO_REQ,
) -> Obj:
    """Pay out the given balance transactions (automatic) or an amount (manual)."""
    total = amount if amount is not None else sum(a.objects[i]["net"] for i in bt_ids)
    arrival = (when // 86400 + 1) * 86400
    po = a.add(
        objects.payout(
            a, created=when, amount=total, arrival=arrival, automatic=automatic, status="pending"
        )
    )
    bt = a.add(
        objects.balance_transaction(
            a,
            created=when,
            amount=-total,
            fee=0,
            type_="payout",
            category="payout",
            source=po["id"],
            description="STRIPE PAYOUT",
            available_on=when,
        ),
        payout=po["id"],
    )
    for bt_id in bt_ids:
        a.meta.setdefault(bt_id, {})["payout"] = po["id"]
        a.refs.setdefault(("balance_transaction", "payout", po["id"]), []).append(bt_id)
    po = a.update(po["id"], balance_transaction=bt["id"])
    _emit(a, "payout.created", po, when, req)
    paid_at = min(arrival, a.now_int())
    if arrival > a.now_int():
        po = a.update(po["id"], status="in_transit")
        return po
    trace = {"status": "supported", "value": "TRC" + po["id"][3:15].upper()}
    po = a.update(po["id"], status="paid", trace_id=trace)
    _emit(a, "payout.paid", po, paid_at, req, {"status": "in_transit"})
    if automatic:
        _emit(a, "payout.reconciliation_completed", po, paid_at, req)
    if fail:
        fbt = a.add(
            objects.balance_transaction(
                a,
                created=paid_at + 3600,
                amount=total,
                fee=0,
                type_="payout_failure",
                category="payout_reversal",
                source=po["id"],
                description="Payout failure",
                available_on=paid_at + 3600,
            )
        )
        po = a.update(
            po["id"],
            status="failed",
            failure_code="account_closed",
            failure_balance_transaction=fbt["id"],
            failure_message="The bank account has been closed.",
        )
        _emit(a, "payout.failed", po, paid_at + 3600, req, {"status": "paid"})
    return po
