"""Rendering objects for a response: `expand[]` on dotted paths and includable fields."""

from __future__ import annotations

from typing import Any

from sandbox import objects
from sandbox.errors import ApiError
from sandbox.store import Account, Obj

MAX_DEPTH = 4


def _includable(a: Account, obj: Obj, field: str) -> Any:
    """Fields Stripe only renders when expanded (`invoice.payments`)."""
    if obj.get("object") == "invoice" and field == "payments":
        ids = a.refs.get(("invoice_payment", "invoice", obj["id"]), [])
        data = [a.objects[i] for i in reversed(ids)]
        return objects.sublist(f"/v1/invoices/{obj['id']}/payments", data)
    return None


def _expand(a: Account, value: Any, parts: list[str], full: str) -> Any:
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(value, list):
        return [_expand(a, v, parts, full) for v in value]
    if not isinstance(value, dict):
        raise ApiError(400, f"This property cannot be expanded ({full}).", param="expand")
    if value.get("object") == "list" and head == "data":
        return dict(value, data=[_expand(a, v, rest, full) for v in value["data"]])
    if head in value:
        child = value[head]
    else:
        child = _includable(a, value, head)
        if child is None:
            raise ApiError(400, f"This property cannot be expanded ({full}).", param="expand")
    if isinstance(child, str):
        target = a.objects.get(child)
        if target is None:
            raise ApiError(400, f"This property cannot be expanded ({full}).", param="expand")
        child = target
    elif child is None:
        return value
    return dict(value, **{head: _expand(a, child, rest, full)})


def render(a: Account, obj: Obj, expand: list[str], prefix: str = "") -> Obj:
    """Apply the expansions that start with `prefix` (`data.` for list items)."""
    out = obj
    for path in expand:
        if prefix:
            if not path.startswith(prefix):
                continue
            path = path[len(prefix) :]
        parts = path.split(".")
        if len(parts) > MAX_DEPTH:
            raise ApiError(
                400,
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}",
                param="expand",
            )
        out = _expand(a, out, parts, path)
    return out


def render_list(
    a: Account, url: str, items: list[Obj], has_more: bool, expand: list[str]
) -> dict[str, Any]:
    """A list response; `expand[]=data.x` applies to every item."""
    for path in expand:
        if not path.startswith("data."):
            raise ApiError(
                400,
                f"This property cannot be expanded ({path}). You may want to try expanding "
                f"'data.{path}' instead.",
                param="expand",
            )
    return {
        "object": "list",
        "data": [render(a, o, expand, "data.") for o in items],
        "has_more": has_more,
        "url": url,
    }
