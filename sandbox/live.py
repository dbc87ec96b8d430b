"""Live activity (`--live`) and `/_sandbox/simulate/<kind>` scenario drivers."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sandbox import declines, flows, objects
from sandbox.errors import ApiError, missing
from sandbox.generator import period_of
from sandbox.generator_money import DISPUTE_REASONS, FRAUD_TYPES
from sandbox.params import as_int, as_str
from sandbox.store import Account

if TYPE_CHECKING:
    from sandbox.state import SandboxState

REASON_CODES = {r: c for r, _, c in DISPUTE_REASONS}
DAY = 86400
# Live activity keeps a real account's proportions; only the pace is quicker than life (one
# renewal per tick, every 15 s by default). A few % of renewals are declined on the first
# attempt; disputes, early fraud warnings and refunds come in proportion to the charges made
# (disputes well under 1 %); payouts follow Stripe's daily schedule: one a day per account.
FIRST_ATTEMPT_DECLINED = 0.04  # per renewal
DISPUTE_CHANCE = 0.004  # per renewal
EFW_CHANCE = 0.002  # per renewal
REFUND_CHANCE = 0.02  # per renewal
PAYOUT_HOUR = 2  # the daily automatic payout is created at 02:00 UTC (as in the history)


def _new_events(a: Account, before_seq: int) -> list[str]:
    idx = a.types.get("event")
    if not idx:
        return []
    out = []
    for obj_id, key in zip(reversed(idx.ids), reversed(idx.keys), strict=True):
        if key[1] <= before_seq:
            break
        out.append(obj_id)
    return list(reversed(out))


def _customer_sub(a: Account, customer: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if customer:
        cust = a.require("customer", customer, param="customer")
        subs = a.refs.get(("subscription", "customer", customer), [])
        if not subs:
            raise ApiError(400, f"Customer {customer} has no subscription.", param="customer")
        return cust, a.objects[subs[-1]]
    live = [s for s in a.iter_type("subscription") if s["status"] in ("active", "past_due")]
    if not live:
        raise ApiError(400, "No active subscription to bill.")
    sub = a.rng.choice(live)
    return a.objects[sub["customer"]], sub


def new_invoice(a: Account, customer: str | None, amount: int | None, now: int) -> dict[str, Any]:
    """Bill a subscription now (a new open invoice)."""
    cust, sub = _customer_sub(a, customer)
    item = sub["items"]["data"][0]
    price = item["price"]
    if amount is not None:
        price = dict(price, unit_amount=amount, unit_amount_decimal=str(amount))
    period_end = now + period_of(price)
    inv = a.add(
        objects.invoice(
            a,
            created=now,
            cust=cust,
            sub=sub,
            price_obj=price,
            quantity=1 if amount is not None else item["quantity"],
            period_start=now,
            period_end=period_end,
            tax=0,
        ),
        invoice_payment=None,
        subscription=sub["id"],
    )
    # A renewal starts the subscription's next period (Stripe sends subscription.updated).
    renewed = dict(item, current_period_start=now, current_period_end=period_end)
    previous = {"items": sub["items"], "latest_invoice": sub["latest_invoice"]}
    sub = a.update(sub["id"], latest_invoice=inv["id"], items=dict(sub["items"], data=[renewed]))
    flows._emit(a, "customer.subscription.updated", sub, now, flows.NO_REQ, previous)
    flows._emit(a, "invoice.created", inv, now, flows.NO_REQ)
    flows._emit(a, "invoice.finalized", inv, now, flows.NO_REQ)
    return inv


def _good_charge(a: Account, charge: str | None) -> dict[str, Any]:
    if charge:
        return a.require("charge", charge, param="charge")
    pool = [
        c
        for c in a.iter_type("charge")
        if c["status"] == "succeeded" and not c["disputed"] and not c["refunded"]
    ]
    if not pool:
        raise ApiError(400, "No undisputed successful charge available.")
    return a.rng.choice(pool[-200:])


def _payout_now(a: Account, now: int) -> dict[str, Any] | None:
    paid = {
        bt
        for (t, f, _), ids in a.refs.items()
        if t == "balance_transaction" and f == "payout"
        for bt in ids
    }
    batch = [
        bt["id"]
        for bt in a.iter_type("balance_transaction")
        if bt["type"] != "payout" and bt["id"] not in paid and bt["available_on"] <= now + 2 * 86400
    ]
    if not batch or sum(a.objects[b]["net"] for b in batch) <= 0:
        return None
    return flows.pay_out(a, batch, now, automatic=True)


def simulate_on(a: Account, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one scenario step on an account; returns the ids created and the new event ids."""
    now = a.now_int()
    before = a.seq
    out: dict[str, Any] = {"kind": kind, "account": a.id}
    if kind == "payment_failed":
        code = as_str(params, "decline_code") or declines.pick(a.rng)
        if code not in declines.DECLINES:
            raise ApiError(
                400,
                f"Unknown decline_code {code!r}; use one of {', '.join(declines.DECLINES)}.",
                param="decline_code",
            )
        inv = new_invoice(a, as_str(params, "customer"), as_int(params, "amount"), now)
        out.update(flows.attempt_invoice_payment(a, inv["id"], now, code, a.rng))
    elif kind == "invoice_paid":
        inv_id = as_str(params, "invoice")
        inv = (
            a.require("invoice", inv_id, param="invoice")
            if inv_id
            else new_invoice(a, as_str(params, "customer"), as_int(params, "amount"), now)
        )
        if inv["status"] != "open":
            raise ApiError(
                400, f"Invoice {inv['id']} is {inv['status']}, not open.", param="invoice"
            )
        out.update(flows.attempt_invoice_payment(a, inv["id"], now, None, a.rng))
    elif kind == "dispute_created":
        ch = _good_charge(a, as_str(params, "charge"))
        reason = as_str(params, "reason") or "fraudulent"
        if reason not in REASON_CODES:
            raise ApiError(
                400,
                f"Unknown reason {reason!r}; use one of {', '.join(REASON_CODES)}.",
                param="reason",
            )
        hours = as_int(params, "due_in_hours", 7 * 24) or 0
        inquiry = as_str(params, "case_type") == "inquiry"
        dp = flows.open_dispute(
            a,
            ch["id"],
            now,
            reason=reason,
            due_by=now + hours * 3600,
            status="warning_needs_response" if inquiry else "needs_response",
            case_type="inquiry" if inquiry else "chargeback",
            network_reason_code=REASON_CODES[reason],
        )
        out.update(dispute=dp["id"], charge=ch["id"])
    elif kind == "early_fraud_warning":
        ch = _good_charge(a, as_str(params, "charge"))
        efw = flows.early_fraud_warning(
            a, ch["id"], now, as_str(params, "fraud_type") or a.rng.choice(FRAUD_TYPES)
        )
        out.update(early_fraud_warning=efw["id"], charge=ch["id"])
    elif kind == "payout":
        po = _payout_now(a, now)
        out["payout"] = po["id"] if po else None
    elif kind == "subscription_canceled":
        sub_id = as_str(params, "subscription")
        sub = (
            a.require("subscription", sub_id, param="subscription")
            if sub_id
            else _customer_sub(a, None)[1]
        )
        flows.set_sub_status(a, sub["id"], "canceled", now, canceled_at=now, ended_at=now)
        out["subscription"] = sub["id"]
    elif kind == "tick":
        out.update(tick(a))
    else:
        raise ApiError(
            404,
            f"Unknown simulation {kind!r}; kinds: payment_failed, invoice_paid, dispute_created, "
            "early_fraud_warning, payout, subscription_canceled, tick.",
        )
    out["events"] = _new_events(a, before)
    return out


def _paid_out_today(a: Account, now: int) -> bool:
    """Whether today's automatic payout exists (or it is not yet the hour of the payout run)."""
    today = now - now % DAY
    if now < today + PAYOUT_HOUR * 3600:
        return True
    return any(p["automatic"] and p["created"] >= today for p in a.iter_type("payout"))


def tick(a: Account) -> dict[str, Any]:
    """One step of live activity: one renewal (a few % declined), due retries, incidents in
    proportion to the charges, and the day's payout once the day has come."""
    now = a.now_int()
    rng = a.rng
    made: dict[str, Any] = {"invoices": [], "retries": []}
    inv = new_invoice(a, None, None, now)
    code = declines.pick(rng) if rng.random() < FIRST_ATTEMPT_DECLINED else None
    flows.attempt_invoice_payment(a, inv["id"], now, code, rng)
    made["invoices"].append(inv["id"])
    roll = rng.random()
    if roll < DISPUTE_CHANCE:
        made.update(
            simulate_on(
                a,
                "dispute_created",
                {
                    "reason": rng.choice(list(REASON_CODES)),
                    "due_in_hours": str(rng.randint(7 * 24, 21 * 24)),
                },
            )
        )
    elif roll < DISPUTE_CHANCE + EFW_CHANCE:
        made.update(simulate_on(a, "early_fraud_warning", {}))
    elif roll < DISPUTE_CHANCE + EFW_CHANCE + REFUND_CHANCE:
        ch = _good_charge(a, None)
        made["refund"] = flows.refund_charge(
            a, ch["id"], ch["amount"], now, reason="requested_by_customer"
        )["id"]
    due = [
        i
        for i in a.iter_type("invoice")
        if i["status"] == "open" and i["next_payment_attempt"] and i["next_payment_attempt"] <= now
    ]
    for inv in due[:5]:
        code = None if rng.random() < 0.5 else declines.pick(rng)
        flows.attempt_invoice_payment(a, inv["id"], now, code, rng)
        made["retries"].append(inv["id"])
    if not _paid_out_today(a, now):
        po = _payout_now(a, now)
        made["payout"] = po["id"] if po else None
    made.pop("events", None)
    return made


def simulate(state: SandboxState, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """`POST /_sandbox/simulate/<kind>` (form param `account` picks a connected account)."""
    acct_id = as_str(params, "account") or state.platform.id
    account = state.accounts.get(acct_id)
    if account is None:
        raise missing("account", acct_id, "account")
    with account.lock:
        return simulate_on(account, kind, params)


class LiveActivity:
    """Background thread producing activity every `interval` seconds on every account."""

    def __init__(self, state: SandboxState, interval: float) -> None:
        self.state = state
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-live", daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for account in list(self.state.accounts.values()):
                with account.lock:
                    try:
                        tick(account)
                    except ApiError:
                        continue  # e.g. no active subscription left on a tiny account
