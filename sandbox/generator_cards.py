"""Generator part three: each customer's saved cards over time (payment methods and their events).

A card is attached when the customer signs up and becomes their default payment method. Over a
long history some cards are refreshed by the card networks (`payment_method.automatically_updated`
with a new expiry), some have their billing details edited (`payment_method.updated`), and a few
are replaced by a new card (the old one `payment_method.detached`). Expiry dates are spread from
this month to four years out, so some cards expire this month or next.
"""

from __future__ import annotations

import random
import time
from typing import Any

from sandbox import flows, objects
from sandbox.store import Account, Obj

DAY = 86400
BRANDS = ["visa", "visa", "visa", "mastercard", "mastercard", "amex", "discover"]


def _month_offset(now: int, months: int) -> tuple[int, int]:
    """(exp_month, exp_year) `months` calendar months after the month of `now`."""
    t = time.gmtime(now)
    index = t.tm_year * 12 + (t.tm_mon - 1) + months
    return index % 12 + 1, index // 12


def _expiry(rng: random.Random, now: int) -> tuple[int, int]:
    roll = rng.random()
    months = 0 if roll < 0.05 else 1 if roll < 0.10 else rng.randint(2, 48)
    return _month_offset(now, months)


def new_card(a: Account, rng: random.Random, name: str, now: int) -> dict[str, Any]:
    """A card record (what charges copy into `payment_method_details.card`)."""
    exp_month, exp_year = _expiry(rng, now)
    return {
        "pm": a.new_id("pm_"),
        "brand": rng.choice(BRANDS),
        "last4": f"{rng.randint(0, 9999):04d}",
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": a.new_id("", 16),
        "funding": rng.choice(["credit", "credit", "debit"]),
        "zip": f"{rng.randint(10000, 99999)}",
        "name": name,
    }


def _attach(a: Account, card: dict[str, Any], cust_id: str, when: int) -> Obj:
    pm = a.add(objects.payment_method(card, created=when, customer_id=cust_id))
    a.meta[cust_id].setdefault("cards", []).append((when, card))
    flows._emit(a, "payment_method.attached", pm, when, flows.NO_REQ)
    return pm


def _set_default(a: Account, cust_id: str, pm_id: str, when: int) -> None:
    cust = a.objects[cust_id]
    settings = dict(cust["invoice_settings"], default_payment_method=pm_id)
    new = a.update(cust_id, invoice_settings=settings)
    previous = {
        "invoice_settings": {
            "default_payment_method": cust["invoice_settings"]["default_payment_method"]
        }
    }
    flows._emit(a, "customer.updated", new, when, flows.NO_REQ, previous)


def cards_for_customer(a: Account, rng: random.Random, cust: Obj, name: str, now: int) -> None:
    """Attach the sign-up card (the default) and schedule its later life; see the module doc."""
    created = cust["created"]
    card = new_card(a, rng, name, now)
    if now - created > 400 * DAY and rng.random() < 0.3:
        # The network refreshed an expiring card: the old expiry fell inside the history.
        when = rng.randint(created + 180 * DAY, now - DAY)
        old = dict(card, pm=card["pm"])
        old["exp_month"], old["exp_year"] = _month_offset(when, 1)
        _attach(a, old, cust["id"], created)
        _set_default(a, cust["id"], card["pm"], created)
        a.meta[cust["id"]]["cards"].append((when, card))
        pm = a.update(
            card["pm"],
            card=objects.payment_method(card, created=created, customer_id=cust["id"])["card"],
        )
        previous = {"card": {"exp_month": old["exp_month"], "exp_year": old["exp_year"]}}
        flows._emit(a, "payment_method.automatically_updated", pm, when, flows.NO_REQ, previous)
        flows._emit(a, "payment_method.updated", pm, when, flows.NO_REQ, previous)
        return
    _attach(a, card, cust["id"], created)
    _set_default(a, cust["id"], card["pm"], created)
    roll = rng.random()
    if roll < 0.05 and now - created > 60 * DAY:
        when = rng.randint(created + 30 * DAY, now - DAY)
        pm = a.objects[card["pm"]]
        details = dict(pm["billing_details"], name=name.upper())
        pm = a.update(card["pm"], billing_details=details)
        previous = {"billing_details": {"name": name}}
        flows._emit(a, "payment_method.updated", pm, when, flows.NO_REQ, previous)
    elif roll < 0.09 and now - created > 60 * DAY:
        # The customer saved a new card; the old one is detached.
        when = rng.randint(created + 30 * DAY, now - DAY)
        fresh = new_card(a, rng, name, now)
        _attach(a, fresh, cust["id"], when)
        _set_default(a, cust["id"], fresh["pm"], when)
        old = a.update(card["pm"], customer=None)
        flows._emit(a, "payment_method.detached", old, when, flows.NO_REQ, {"customer": cust["id"]})


def current_pm(a: Account, cust_id: str) -> str:
    """The customer's default payment method id now."""
    return str(a.objects[cust_id]["invoice_settings"]["default_payment_method"])
