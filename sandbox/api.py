"""Routing of `/v1/...` requests and the read endpoints (retrieve and list) with Stripe's semantics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox import connect, writes
from sandbox.errors import ApiError, invalid, missing, unrecognized_url
from sandbox.params import as_int, as_list, as_str, check_known
from sandbox.render import render, render_list
from sandbox.store import Account, Obj

COMMON_LIST = {"limit", "starting_after", "ending_before", "created", "expand"}


@dataclass
class ListSpec:
    """A list endpoint: object type, extra params, and which of them are indexed references."""

    otype: str
    extra: frozenset[str] = frozenset()
    refs: tuple[str, ...] = ()
    eq: tuple[str, ...] = ()  # plain equality filters on a field of the same name


RESOURCES: dict[str, ListSpec] = {
    "customers": ListSpec("customer", frozenset({"email", "test_clock"}), eq=("email",)),
    "products": ListSpec("product", frozenset({"active", "ids", "shippable", "url"})),
    "prices": ListSpec(
        "price",
        frozenset({"active", "currency", "product", "type", "lookup_keys", "recurring"}),
        eq=("product", "currency", "type"),
    ),
    "subscriptions": ListSpec(
        "subscription",
        frozenset(
            {
                "customer",
                "price",
                "status",
                "collection_method",
                "current_period_end",
                "current_period_start",
                "test_clock",
                "automatic_tax",
            }
        ),
        refs=("customer",),
    ),
    "invoices": ListSpec(
        "invoice",
        frozenset({"customer", "subscription", "status", "collection_method", "due_date"}),
        refs=("customer", "subscription"),
        eq=("status",),
    ),
    "invoice_payments": ListSpec(
        "invoice_payment",
        frozenset({"invoice", "payment", "status"}),
        refs=("invoice",),
        eq=("status",),
    ),
    "payment_intents": ListSpec("payment_intent", frozenset({"customer"}), refs=("customer",)),
    # A detached card keeps its index entry, so `customer` is also checked on the object itself.
    "payment_methods": ListSpec(
        "payment_method",
        frozenset({"customer", "type", "allow_redisplay", "customer_account"}),
        refs=("customer",),
        eq=("customer", "type"),
    ),
    "charges": ListSpec(
        "charge",
        frozenset({"customer", "payment_intent", "transfer_group"}),
        refs=("customer", "payment_intent"),
    ),
    "refunds": ListSpec(
        "refund", frozenset({"charge", "payment_intent"}), refs=("charge", "payment_intent")
    ),
    "disputes": ListSpec(
        "dispute", frozenset({"charge", "payment_intent"}), refs=("charge", "payment_intent")
    ),
    "radar/early_fraud_warnings": ListSpec(
        "radar.early_fraud_warning",
        frozenset({"charge", "payment_intent"}),
        refs=("charge", "payment_intent"),
    ),
    "payouts": ListSpec(
        "payout", frozenset({"arrival_date", "destination", "status"}), eq=("status",)
    ),
    "balance_transactions": ListSpec(
        "balance_transaction",
        frozenset({"payout", "source", "type", "currency"}),
        refs=("payout",),
        eq=("source", "type", "currency"),
    ),
    "events": ListSpec("event", frozenset({"type", "types", "delivery_success"})),
    # Connect: the platform's connected accounts (see sandbox/connect.py)
    "accounts": ListSpec("account"),
    "files": ListSpec("file", frozenset({"purpose"}), eq=("purpose",)),
}
ID_PREFIX = {"customer": "cus_", "invoice": "in_", "charge": "ch_", "payment_intent": "pi_"}


@dataclass
class Ctx:
    """Per-request context handed to handlers."""

    account: Account
    request_id: str
    idempotency_key: str | None
    base_url: str


def created_filter(params: dict[str, Any], name: str = "created") -> dict[str, int] | None:
    """`created=123` or `created[gte]=...` into bounds, with Stripe's errors for bad input."""
    raw = params.get(name)
    if raw is None:
        return None
    if isinstance(raw, str):
        return {"eq": as_int(params, name) or 0}
    if not isinstance(raw, dict):
        raise invalid(
            name, f"Invalid {name}: must be an integer or a hash", code="parameter_invalid_integer"
        )
    out = {}
    for op in raw:
        if op not in ("gt", "gte", "lt", "lte"):
            raise ApiError(
                400,
                f"Received unknown parameter: {name}[{op}]",
                code="parameter_unknown",
                param=f"{name}[{op}]",
            )
        out[op] = as_int(raw, op) or 0
    return out


def _limit(params: dict[str, Any]) -> int:
    limit = as_int(params, "limit", 10)
    assert limit is not None
    if limit < 1:
        raise invalid("limit", "This value must be greater than or equal to 1.", code=None)
    if limit > 100:
        raise invalid("limit", "This value must be less than or equal to 100.", code=None)
    return limit


def _event_predicate(params: dict[str, Any]) -> Callable[[Obj], bool] | None:
    one = as_str(params, "type")
    many = as_list(params, "types")
    if one and many:
        raise ApiError(
            400, "You may only specify one of these parameters: type, types.", param="types"
        )
    if len(many) > 20:
        raise invalid("types", "You may only specify up to 20 types.", code=None)
    if one:
        if "*" in one:
            prefix = one.split("*")[0]
            return lambda e: e["type"].startswith(prefix)
        return lambda e: e["type"] == one
    if many:
        wanted = set(many)
        return lambda e: e["type"] in wanted
    return None


def _field_equals(field: str, value: str) -> Callable[[Obj], bool]:
    return lambda obj: obj.get(field) == value


def list_objects(
    ctx: Ctx,
    path: str,
    spec: ListSpec,
    params: dict[str, Any],
    parent: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Any list endpoint: newest first, cursors both ways, created and field filters."""
    check_known(params, COMMON_LIST | spec.extra)
    limit = _limit(params)
    expand = as_list(params, "expand")
    starting_after = as_str(params, "starting_after")
    ending_before = as_str(params, "ending_before")
    if starting_after and ending_before:
        raise ApiError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    preds: list[Callable[[Obj], bool]] = []
    if spec.otype == "event":
        pred = _event_predicate(params)
        if pred:
            preds.append(pred)
    ref = parent
    for field in spec.refs:
        value = as_str(params, field)
        if value:
            if ref is None:
                ref = (field, value)
            else:
                preds.append(_field_equals(field, value))
    for field in spec.eq:
        value = as_str(params, field)
        if value is not None:
            preds.append(_field_equals(field, value))
    if spec.otype == "subscription":
        status = as_str(params, "status")
        if status is None:
            preds.append(lambda o: o["status"] not in ("canceled", "incomplete_expired"))
        elif status != "all":
            preds.append(_field_equals("status", status))
    if spec.otype == "account":  # a disconnected account leaves the platform's list
        preds.append(lambda o: connect.is_connected(ctx.account, o["id"]))
    if spec.otype in ("product", "price") and params.get("active") is not None:
        want = str(params["active"]).lower() == "true"
        preds.append(lambda o: o["active"] == want)
    page = ctx.account.list_page(
        spec.otype,
        label=spec.otype,
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        created=created_filter(params),
        ref=ref,
        predicate=(lambda o: all(p(o) for p in preds)) if preds else None,
    )
    return render_list(ctx.account, f"/v1/{path}", page.items, page.has_more, expand)


def retrieve(ctx: Ctx, spec: ListSpec, obj_id: str, params: dict[str, Any]) -> Obj:
    """GET /v1/<resource>/<id>."""
    check_known(params, {"expand"})
    obj = ctx.account.require(spec.otype, obj_id)
    if spec.otype == "account" and not connect.is_connected(ctx.account, obj_id):
        raise missing("account", obj_id)
    return render(ctx.account, obj, as_list(params, "expand"))


def balance(a: Account) -> dict[str, Any]:
    """GET /v1/balance: available vs pending funds from the balance transactions."""
    now = a.now_int()
    available = pending = 0
    for bt in a.iter_type("balance_transaction"):
        if bt["available_on"] <= now:
            available += bt["net"]
        else:
            pending += bt["net"]
    return {
        "object": "balance",
        "available": [
            {"amount": available, "currency": "usd", "source_types": {"card": available}}
        ],
        "connect_reserved": [{"amount": 0, "currency": "usd"}],
        "livemode": False,
        "pending": [{"amount": pending, "currency": "usd", "source_types": {"card": pending}}],
    }


def dispatch(
    ctx: Ctx, method: str, path: str, params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Route one API request to its handler; returns (status, JSON body)."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] != "v1":
        raise unrecognized_url(method, path)
    parts = parts[1:]
    if parts[:1] == ["radar"] and len(parts) >= 2:
        parts = ["radar/" + parts[1]] + parts[2:]
    if not parts:
        raise unrecognized_url(method, path)
    name, rest = parts[0], parts[1:]
    if name == "balance" and not rest and method == "GET":
        check_known(params, {"expand"})
        return 200, balance(ctx.account)
    handler = writes.route(method, name, rest)
    if handler is not None:
        return handler(ctx, rest, params)
    spec = RESOURCES.get(name)
    if spec is not None and method == "GET":
        if not rest:
            return 200, list_objects(ctx, name, spec, params)
        if len(rest) == 1:
            return 200, retrieve(ctx, spec, rest[0], params)
        if name == "customers" and len(rest) == 2 and rest[1] == "balance_transactions":
            ctx.account.require("customer", rest[0])
            sub = ListSpec("customer_balance_transaction")
            url = f"customers/{rest[0]}/balance_transactions"
            return 200, list_objects(ctx, url, sub, params, parent=("customer", rest[0]))
        if name == "customers" and rest[1:] == ["payment_methods"]:
            ctx.account.require("customer", rest[0])
            check_known(params, COMMON_LIST - {"created"} | {"type", "allow_redisplay"})
            sub = ListSpec(
                "payment_method",
                frozenset({"type", "allow_redisplay", "customer"}),
                eq=("customer", "type"),
            )
            url = f"customers/{rest[0]}/payment_methods"
            merged = dict(params, customer=rest[0])
            return 200, list_objects(ctx, url, sub, merged, parent=("customer", rest[0]))
        if name == "customers" and len(rest) == 3 and rest[1] == "payment_methods":
            check_known(params, {"expand"})
            obj = ctx.account.require("payment_method", rest[2])
            if obj["customer"] != rest[0]:
                raise missing("payment_method", rest[2])
            return 200, render(ctx.account, obj, as_list(params, "expand"))
        if name == "customers" and len(rest) == 3 and rest[1] == "balance_transactions":
            obj = ctx.account.require(
                "customer_balance_transaction", rest[2], "customer balance transaction"
            )
            if obj["customer"] != rest[0]:
                raise ApiError(
                    404,
                    f"No such customer balance transaction: '{rest[2]}'",
                    code="resource_missing",
                )
            check_known(params, {"expand"})
            return 200, render(ctx.account, obj, as_list(params, "expand"))
    raise unrecognized_url(method, path)
