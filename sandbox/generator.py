"""A realistic Stripe account from a seed: customers, subscriptions, invoices, payments, money movement.

Deterministic for a seed and a `now`; linear in the number of customers.
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass, field
from typing import Any

from sandbox import declines, flows, objects
from sandbox.generator_cards import cards_for_customer, current_pm
from sandbox.generator_ledger import ledger_activity
from sandbox.generator_money import incidents, payouts
from sandbox.store import Account

DAY = 86400
PERIOD = 30 * DAY
YEAR = 365 * DAY
# Share of each segment on an annual contract (billed once a year at ten months' price).
ANNUAL_SHARE = {"self_serve": 0.0, "mid_market": 0.2, "enterprise": 0.5}
# Decline codes handed out, in this order, to the first renewals that fail in the last
# SHOWCASE_DAYS (their retries keep failing with the same code), so that a demo account shows
# every kind of failure a finance team handles, whatever the seed.
SHOWCASE_CODES = (
    "insufficient_funds",
    "expired_card",
    "generic_decline",
    "authentication_required",
    "processing_error",
    "do_not_try_again",
    "lost_card",
    "duplicate_transaction",
)
SHOWCASE_DAYS = 13  # first failure + 3 and 5 days of retries: still open, retries left
FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Luca",
    "Maya",
    "Noah",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoe",
]
LAST = [
    "Abbott",
    "Berg",
    "Costa",
    "Dubois",
    "Eze",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quint",
    "Rossi",
    "Silva",
    "Tanaka",
    "Weber",
    "Young",
]
ORG = [
    "Labs",
    "Systems",
    "Analytics",
    "Works",
    "Cloud",
    "Health",
    "Logistics",
    "Studio",
    "Bank",
    "Retail",
    "Foods",
    "Robotics",
    "Media",
    "Energy",
    "Legal",
    "Travel",
]
# segment: (share, product index, (min, max) monthly unit amount in cents, (min, max) seats)
SEGMENTS: dict[str, tuple[float, int, tuple[int, int], tuple[int, int]]] = {
    "self_serve": (0.70, 0, (2900, 9900), (1, 3)),
    "mid_market": (0.25, 1, (49900, 199900), (1, 1)),
    "enterprise": (0.05, 2, (500000, 2500000), (1, 1)),
}


@dataclass
class Built:
    """What the generator made, for exports and the truth report."""

    customers: list[dict[str, Any]] = field(
        default_factory=list
    )  # id, name, email, segment, mrr, sub, status
    charges_ok: list[str] = field(default_factory=list)
    fail_rate: float = 0.035  # share of first payment attempts declined
    showcase: list[str] = field(default_factory=lambda: list(SHOWCASE_CODES))


def period_of(price_obj: dict[str, Any]) -> int:
    """Seconds in one billing period of a price (months are 30 days, years 365)."""
    return YEAR if price_obj["recurring"]["interval"] == "year" else PERIOD


def _catalog(a: Account, start: int) -> list[list[dict[str, Any]]]:
    specs = [
        ("Ledger Starter", "Self-serve plan"),
        ("Ledger Growth", "Mid-market plan"),
        ("Ledger Enterprise", "Enterprise contract"),
    ]
    out = []
    for name, desc in specs:
        prod = a.add(objects.product(a, created=start, name=name, description=desc))
        out.append([prod])
    return out


def build_account(a: Account, *, seed: int, customers: int, days: int) -> Built:
    """Fill `a` with `days` of history ending at `a.now()`."""
    # Millions of small dicts and no cycles: the cyclic GC only costs time here.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(a, seed=seed, customers=customers, days=days)
    finally:
        # The account lives as long as the server: keep the collector from re-scanning
        # millions of long-lived dicts on every full collection while requests are served.
        gc.freeze()
        if was_enabled:
            gc.enable()


def _build(a: Account, *, seed: int, customers: int, days: int) -> Built:
    rng = random.Random(seed)
    now = a.now_int()
    start = now - days * DAY
    # A few % of renewals fail on a real account; a tiny demo account fails more often so that
    # its last 30 days still hold some failed payments to work on.
    built = Built(fail_rate=min(0.11, max(0.035, 4 / max(customers, 1))))
    catalog = _catalog(a, start - 400 * DAY)
    price_cache: dict[tuple[int, int, str], dict[str, Any]] = {}
    segs = list(SEGMENTS)
    weights = [SEGMENTS[s][0] for s in segs]
    for n in range(customers):
        segment = rng.choices(segs, weights)[0]
        _, prod_i, (lo, hi), (qlo, qhi) = SEGMENTS[segment]
        unit = rng.randint(lo // 100, hi // 100) * 100
        if segment == "self_serve":
            unit = rng.choice([2900, 4900, 9900])
        interval = "year" if rng.random() < ANNUAL_SHARE[segment] else "month"
        if interval == "year":
            unit *= 10  # an annual contract: two months free
        key = (prod_i, unit, interval)
        if key not in price_cache:
            prod = catalog[prod_i][0]
            price_cache[key] = a.add(
                objects.price(
                    a,
                    created=prod["created"],
                    product_id=prod["id"],
                    unit_amount=unit,
                    nickname=f"{prod['name']} {unit // 100}"
                    + (" annual" if interval == "year" else ""),
                    interval=interval,
                )
            )
        price_obj = price_cache[key]
        qty = rng.randint(qlo, qhi)
        _customer_timeline(a, rng, built, n, segment, price_obj, qty, start, now)
    incidents(a, rng, built.charges_ok, now)
    ledger_activity(a, rng, start, now)
    payouts(a, rng, start, now)
    return built


def _customer_timeline(
    a: Account,
    rng: random.Random,
    built: Built,
    n: int,
    segment: str,
    price_obj: dict[str, Any],
    qty: int,
    start: int,
    now: int,
) -> None:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    org = f"{last} {rng.choice(ORG)}" if segment != "self_serve" else f"{first} {last}"
    established = rng.random() < 0.6
    period = period_of(price_obj)
    if established:
        # billed on an anchor in the first period of the window (never in the future)
        anchor = start + rng.randint(0, min(period, max(2, now - start - 3600)) - 1)
        created = anchor - rng.randint(1, 12) * PERIOD
    else:
        created = start + rng.randint(0, max(1, now - start - 3600))
        anchor = created
    created -= created % 60  # sign-ups and billing cluster on whole minutes: many share a second
    anchor -= anchor % 60
    email = f"{first.lower()}.{last.lower()}{n}@{org.split()[0].lower()}.example"
    cust = a.add(
        objects.customer(a, created=created, name=org, email=email, metadata={"segment": segment}),
        card=None,
    )
    flows._emit(a, "customer.created", cust, created, flows.NO_REQ)
    cards_for_customer(a, rng, cust, f"{first} {last}", now)
    cust = a.objects[cust["id"]]
    trial = not established and rng.random() < 0.25
    first_bill = anchor + 14 * DAY if trial else anchor
    sub = a.add(
        objects.subscription(
            a,
            created=created,
            customer_id=cust["id"],
            price_obj=price_obj,
            quantity=qty,
            status="trialing" if trial else "active",
            period_start=anchor,
            period_end=first_bill if trial else anchor + period,
            trial_start=anchor if trial else None,
            trial_end=first_bill if trial else None,
        )
    )
    if rng.random() < 0.7:  # Checkout and most integrations also set it on the subscription
        pm_at_signup = a.meta[cust["id"]]["cards"][0][1]["pm"]
        sub = a.update(sub["id"], default_payment_method=pm_at_signup)
    flows._emit(a, "customer.subscription.created", sub, created, flows.NO_REQ)
    if trial and first_bill - 3 * DAY <= now:
        flows._emit(
            a, "customer.subscription.trial_will_end", sub, first_bill - 3 * DAY, flows.NO_REQ
        )
    mrr = price_obj["unit_amount"] * qty // (12 if period == YEAR else 1)
    info = {
        "id": cust["id"],
        "name": org,
        "email": email,
        "segment": segment,
        "mrr": mrr,
        "subscription": sub["id"],
        "created": created,
    }
    built.customers.append(info)
    taxed = rng.random() < 0.3
    bill_at = first_bill if not established else anchor
    while bill_at <= now:
        if a.objects[sub["id"]]["status"] in ("canceled", "unpaid"):
            break
        if rng.random() < 0.025 and bill_at > created + PERIOD:
            flows.set_sub_status(
                a,
                sub["id"],
                "canceled",
                bill_at,
                canceled_at=bill_at,
                ended_at=bill_at,
                cancellation_details={
                    "comment": None,
                    "feedback": "too_expensive",
                    "reason": "cancellation_requested",
                },
            )
            break
        _bill_period(a, rng, built, cust, sub["id"], price_obj, qty, bill_at, now, taxed)
        bill_at += period
    if a.objects[sub["id"]]["default_payment_method"] not in (None, current_pm(a, cust["id"])):
        a.update(sub["id"], default_payment_method=current_pm(a, cust["id"]))
    info["status"] = a.objects[sub["id"]]["status"]


def _bill_period(
    a: Account,
    rng: random.Random,
    built: Built,
    cust: dict[str, Any],
    sub_id: str,
    price_obj: dict[str, Any],
    qty: int,
    at: int,
    now: int,
    taxed: bool,
) -> None:
    sub = a.objects[sub_id]
    tax = round(price_obj["unit_amount"] * qty * rng.choice([0.0725, 0.0875, 0.06])) if taxed else 0
    reason = "subscription_create" if sub["latest_invoice"] is None else "subscription_cycle"
    inv = a.add(
        objects.invoice(
            a,
            created=at,
            cust=cust,
            sub=sub,
            price_obj=price_obj,
            quantity=qty,
            period_start=at,
            period_end=at + period_of(price_obj),
            tax=tax,
            billing_reason=reason,
        ),
        invoice_payment=None,
        subscription=sub["id"],
    )
    item = dict(
        sub["items"]["data"][0],
        current_period_start=at,
        current_period_end=at + period_of(price_obj),
    )
    changes: dict[str, Any] = {
        "latest_invoice": inv["id"],
        "items": dict(sub["items"], data=[item]),
    }
    if sub["status"] == "trialing":
        flows.set_sub_status(a, sub_id, "active", at, **changes)
    else:
        a.update(sub_id, **changes)
    flows._emit(a, "invoice.created", inv, at, flows.NO_REQ)
    flows._emit(a, "invoice.finalized", inv, at, flows.NO_REQ)
    when = at + 3600
    fail_rate = (
        built.fail_rate / 2 if cust["metadata"]["segment"] == "enterprise" else built.fail_rate
    )
    showcase: str | None = None
    for attempt in range(4):
        if when > now:
            return
        decline = (
            declines.pick(rng) if rng.random() < (fail_rate if attempt == 0 else 0.5) else None
        )
        if attempt and decline is None and rng.random() < 0.3:
            decline = declines.pick(rng)
        if (
            attempt == 0
            and built.showcase
            and when >= now - SHOWCASE_DAYS * DAY
            and (decline or rng.random() < 0.06)
        ):
            showcase = built.showcase.pop(0)
        decline = showcase or decline
        if decline and decline not in declines.RECOVERABLE and attempt and rng.random() < 0.5:
            pass  # a hard decline keeps failing
        result = flows.attempt_invoice_payment(a, inv["id"], when, decline, rng)
        if result["status"] == "paid":
            built.charges_ok.append(result["charge"])
            return
        nxt = a.objects[inv["id"]]["next_payment_attempt"]
        if nxt is None:
            break
        when = nxt
    if when <= now and a.objects[inv["id"]]["status"] == "open":
        # Retries exhausted: Stripe's subscription settings cancel (most) or leave it unpaid.
        final = "canceled" if rng.random() < 0.7 else "unpaid"
        extra: dict[str, Any] = {
            "canceled_at": when,
            "ended_at": when,
            "cancellation_details": {"comment": None, "feedback": None, "reason": "payment_failed"},
        }
        if final == "unpaid":
            inv = a.update(
                inv["id"],
                status="uncollectible",
                status_transitions={
                    **a.objects[inv["id"]]["status_transitions"],
                    "marked_uncollectible_at": when,
                },
            )
            flows._emit(a, "invoice.marked_uncollectible", inv, when, flows.NO_REQ)
        flows.set_sub_status(a, sub_id, final, when, **(extra if final == "canceled" else {}))
