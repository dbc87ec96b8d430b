"""In-memory per-account storage: objects by type, stable newest-first order, the event log.

Objects are treated as immutable values: an update stores a new dict, so an event's
`data.object` can share the dict that was current when the event was emitted.
"""

from __future__ import annotations

import base64
import random
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from typing import Any

from sandbox import API_VERSION
from sandbox.errors import ApiError, missing

EVENT_WINDOW_SECONDS = 30 * 86400
# base64 gives 64 symbols; fold '+' and '/' onto letters so ids stay alphanumeric like Stripe's.
_B64_TO_ALNUM = bytes.maketrans(b"+/", b"Xq")
_NO_REQUEST = {"id": None, "idempotency_key": None}
# Fields indexed for `?customer=` style list filters (values never change after creation).
REF_FIELDS: dict[str, tuple[str, ...]] = {
    "subscription": ("customer",),
    "invoice": ("customer", "subscription"),
    "invoice_payment": ("invoice",),
    "payment_intent": ("customer",),
    "payment_method": ("customer",),
    "charge": ("customer", "payment_intent"),
    "refund": ("charge", "payment_intent"),
    "dispute": ("charge", "payment_intent"),
    "radar.early_fraud_warning": ("charge", "payment_intent"),
    "balance_transaction": ("payout",),
    "customer_balance_transaction": ("customer",),
}

Obj = dict[str, Any]


class TypeIndex:
    """Ids of one object type ordered by (created, seq), oldest first."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.keys: list[tuple[int, int]] = []
        self.pos: dict[str, int] = {}
        self._sorted = True

    def add(self, obj_id: str, key: tuple[int, int]) -> None:
        """Append; re-sort lazily when the key is older than the newest one."""
        if self.keys and key < self.keys[-1]:
            self._sorted = False
        self.pos[obj_id] = len(self.ids)
        self.ids.append(obj_id)
        self.keys.append(key)

    def ensure_sorted(self) -> None:
        """Restore order after out-of-order inserts (bulk generation)."""
        if self._sorted:
            return
        order = sorted(range(len(self.ids)), key=self.keys.__getitem__)
        self.ids = [self.ids[i] for i in order]
        self.keys = [self.keys[i] for i in order]
        self.pos = {obj_id: i for i, obj_id in enumerate(self.ids)}
        self._sorted = True


class Page:
    """One list page: items newest first, and whether more exist in the walk direction."""

    def __init__(self, items: list[Obj], has_more: bool) -> None:
        self.items = items
        self.has_more = has_more


class Account:
    """One Stripe account's data (the platform or a connected account)."""

    def __init__(
        self, account_id: str, seed: int, now: Callable[[], float], connected: bool = False
    ) -> None:
        self.id = account_id
        self.connected = connected
        self.now = now
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.objects: dict[str, Obj] = {}
        self.types: dict[str, TypeIndex] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.refs: dict[tuple[str, str, str], list[str]] = {}
        self.files: dict[str, bytes] = {}
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.seq = 0

    # ids and time -------------------------------------------------------------------
    def new_id(self, prefix: str, length: int = 24) -> str:
        """A random Stripe-style id (not time ordered)."""
        raw = base64.b64encode(self.rng.randbytes((length * 3 + 3) // 4)).translate(_B64_TO_ALNUM)
        return prefix + raw[:length].decode()

    def now_int(self) -> int:
        """The injectable clock, in whole seconds."""
        return int(self.now())

    # objects ------------------------------------------------------------------------
    def add(self, obj: Obj, index_type: str | None = None, **meta: Any) -> Obj:
        """Store a new object and index it under its `object` type."""
        otype = index_type or obj["object"]
        self.seq += 1
        self.objects[obj["id"]] = obj
        idx = self.types.get(otype)
        if idx is None:
            idx = self.types[otype] = TypeIndex()
        idx.add(obj["id"], (int(obj["created"]), self.seq))
        if meta:
            self.meta[obj["id"]] = dict(meta)
        for field in REF_FIELDS.get(otype, ()):
            value = meta[field] if field in meta else obj.get(field)
            if isinstance(value, str):
                self.refs.setdefault((otype, field, value), []).append(obj["id"])
        return obj

    def update(self, obj_id: str, **changes: Any) -> Obj:
        """Replace an object with a copy carrying `changes` (snapshots stay untouched)."""
        new = dict(self.objects[obj_id])
        new.update(changes)
        self.objects[obj_id] = new
        return new

    def get(self, obj_id: str) -> Obj | None:
        """The current object for an id, or None."""
        return self.objects.get(obj_id)

    def require(self, otype: str, obj_id: str, label: str | None = None, param: str = "id") -> Obj:
        """The object of that type, or Stripe's 404."""
        obj = self.objects.get(obj_id)
        if obj is None or obj.get("object") != otype:
            raise missing(label or otype, obj_id, param)
        if otype == "event" and obj["created"] < self.window_start():
            raise missing(label or otype, obj_id, param)
        return obj

    def count(self, otype: str) -> int:
        """How many objects of a type are stored."""
        idx = self.types.get(otype)
        return len(idx.ids) if idx else 0

    def counts(self) -> dict[str, int]:
        """Object counts by type."""
        return {t: len(idx.ids) for t, idx in sorted(self.types.items())}

    def iter_type(self, otype: str) -> Iterable[Obj]:
        """Current objects of a type, oldest first."""
        idx = self.types.get(otype)
        if not idx:
            return []
        idx.ensure_sorted()
        return (self.objects[i] for i in idx.ids)

    # events -------------------------------------------------------------------------
    def window_start(self) -> int:
        """Oldest `created` an event may have to be listable/retrievable."""
        return self.now_int() - EVENT_WINDOW_SECONDS

    def emit(
        self,
        event_type: str,
        obj: Obj,
        *,
        created: int | None = None,
        previous: dict[str, Any] | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Obj:
        """Record an event whose `data.object` is the object as it is now."""
        when = int(created if created is not None else self.now_int())
        if when < self.window_start():
            # Already past Stripe's 30-day window, so never served: keep only what stats count
            # and let superseded object versions be freed (most of a long history's memory).
            return self.add(
                {"id": self.new_id("evt_"), "object": "event", "created": when, "type": event_type}
            )
        data: dict[str, Any] = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {
            "id": self.new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "context": None,
            "created": when,
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": request_id, "idempotency_key": idempotency_key}
            if request_id or idempotency_key
            else _NO_REQUEST,
            "type": event_type,
        }
        if self.connected:
            event["account"] = self.id  # Stripe names the account only on Connect events
        self.add(event)
        return event

    def event_counts(self) -> dict[str, int]:
        """Event counts by event type (all history, listable or not)."""
        out: dict[str, int] = {}
        for evt in self.iter_type("event"):
            out[evt["type"]] = out.get(evt["type"], 0) + 1
        return dict(sorted(out.items()))

    # listing ------------------------------------------------------------------------
    def list_page(
        self,
        otype: str,
        *,
        label: str,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        created: dict[str, int] | None = None,
        ref: tuple[str, str] | None = None,
        predicate: Callable[[Obj], bool] | None = None,
    ) -> Page:
        """Stripe list semantics over one type: newest first, cursor pagination both ways."""
        idx = self.types.get(otype) or TypeIndex()
        idx.ensure_sorted()
        if ref is not None:
            ids = self.refs.get((otype, ref[0], ref[1]), [])
            pairs = sorted((self._key(otype, i), i) for i in ids)
            keys = [k for k, _ in pairs]
            ids = [i for _, i in pairs]
            pos = {i: n for n, i in enumerate(ids)}
        else:
            keys, ids, pos = idx.keys, idx.ids, idx.pos
        lo, hi = 0, len(ids)
        bounds = dict(created or {})
        if otype == "event":
            start = self.window_start()
            bounds["gte"] = max(bounds.get("gte", start), start)
        if "gt" in bounds:
            lo = max(lo, bisect_left(keys, (bounds["gt"] + 1, -1)))
        if "gte" in bounds:
            lo = max(lo, bisect_left(keys, (bounds["gte"], -1)))
        if "lt" in bounds:
            hi = min(hi, bisect_left(keys, (bounds["lt"], -1)))
        if "lte" in bounds:
            hi = min(hi, bisect_right(keys, (bounds["lte"], 1 << 62)))
        if "eq" in bounds:
            lo = max(lo, bisect_left(keys, (bounds["eq"], -1)))
            hi = min(hi, bisect_right(keys, (bounds["eq"], 1 << 62)))

        def cursor(param: str, value: str) -> int:
            obj = self.objects.get(value)
            if obj is None or obj.get("object") != otype:
                raise missing(label, value, param)
            if otype == "event" and obj["created"] < self.window_start():
                raise missing(label, value, param)  # past the 30-day window: gone, as for retrieve
            if value in pos:
                return pos[value]
            # An object of the type outside a ref-filtered subset: position by its key.
            return bisect_left(keys, self._key(otype, value))

        out: list[Obj] = []
        if ending_before:
            start_at = max(cursor("ending_before", ending_before) + 1, lo)
            for i in range(start_at, hi):
                obj = self.objects[ids[i]]
                if predicate is None or predicate(obj):
                    out.append(obj)
                    if len(out) > limit:
                        break
            has_more = len(out) > limit
            return Page(list(reversed(out[:limit])), has_more)
        top = hi - 1
        if starting_after:
            top = min(top, cursor("starting_after", starting_after) - 1)
        for i in range(top, lo - 1, -1):
            obj = self.objects[ids[i]]
            if predicate is None or predicate(obj):
                out.append(obj)
                if len(out) > limit:
                    break
        return Page(out[:limit], len(out) > limit)

    def _key(self, otype: str, obj_id: str) -> tuple[int, int]:
        idx = self.types[otype]
        idx.ensure_sorted()
        return idx.keys[idx.pos[obj_id]]


class AccountNotFound(ApiError):
    """Stripe's answer to a `Stripe-Account` header naming no connected account."""

    def __init__(self, account_id: str) -> None:
        super().__init__(
            403,
            "The provided key 'sk_test_*****' does not have access to account "
            f"'{account_id}' (or that account does not exist). Application access may have "
            "been revoked.",
            code="account_invalid",
        )
