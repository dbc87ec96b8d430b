"""`POST /_sandbox/webhooks/deliver`: deliver stored events to a URL as Stripe does — signed,
at least once, in no guaranteed order — with the disorder a test asks for.

Form params: `url` and `secret` (the endpoint's `whsec_...`), optional `events` (comma-separated
ids; default every event created at or after `since`, a unix time, default the last hour),
`order` (`created`, `reversed` or `shuffled`), `duplicates` (how many of them to deliver a
second time, at random places), `seed`. The body of each delivery is the event as the API
serves it; `Stripe-Signature: t=<now>,v1=<HMAC-SHA256 of "t.body">`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from sandbox.errors import ApiError
from sandbox.params import as_int, as_str
from sandbox.store import Account

ORDERS = ("created", "reversed", "shuffled")


def signature(body: bytes, secret: str, at: int) -> str:
    """The Stripe-Signature header of one delivery."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def _post(url: str, body: bytes, secret: str) -> int:
    req = urllib.request.Request(
        url,
        data=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature(body, secret, int(time.time())),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0  # unreachable: Stripe would retry later


def deliver(a: Account, params: dict[str, Any]) -> dict[str, Any]:
    """Deliver the chosen events of one account; returns the statuses the endpoint answered."""
    url, secret = as_str(params, "url"), as_str(params, "secret")
    if not url or not url.startswith(("http://", "https://")):
        raise ApiError(400, "Missing required param: url (http or https).", param="url")
    if not secret or not secret.startswith("whsec_"):
        raise ApiError(400, "Missing required param: secret (whsec_...).", param="secret")
    order = as_str(params, "order") or "created"
    if order not in ORDERS:
        raise ApiError(400, f"order must be one of {', '.join(ORDERS)}.", param="order")
    wanted = {e for e in (as_str(params, "events") or "").split(",") if e}
    since = as_int(params, "since")
    if since is None:
        since = a.now_int() - 3600
    with a.lock:
        events = [
            e
            for e in a.iter_type("event")
            if (e["id"] in wanted if wanted else e["created"] >= since)
        ]
    rng = random.Random(as_int(params, "seed") or 0)
    if order == "reversed":
        events.reverse()
    elif order == "shuffled":
        rng.shuffle(events)
    duplicates = max(0, as_int(params, "duplicates") or 0)
    for event in rng.sample(events, min(duplicates, len(events))):
        events.insert(rng.randrange(len(events) + 1), event)
    statuses: Counter[int] = Counter()
    for event in events:
        body = json.dumps(event, separators=(",", ":")).encode()
        statuses[_post(url, body, secret)] += 1
    return {
        "delivered": len(events),
        "events": [e["id"] for e in events],
        "statuses": {str(k): v for k, v in statuses.items()},
    }
