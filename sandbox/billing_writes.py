"""Billing writes: cancel/update a subscription, pay (retry) an invoice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox import declines, flows
from sandbox.errors import ApiError
from sandbox.params import as_bool, as_int, as_list, as_metadata, as_str, check_known
from sandbox.render import render
from sandbox.writes import _req

if TYPE_CHECKING:
    from sandbox.api import Ctx


def cancel_subscription(
    ctx: Ctx, rest: list[str], params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """DELETE /v1/subscriptions/{id}."""
    check_known(params, {"invoice_now", "prorate", "cancellation_details", "expand"})
    a = ctx.account
    sub = a.require("subscription", rest[0])
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise ApiError(
            400,
            f"A canceled subscription can only update its cancellation_details and metadata. "
            f"Subscription {sub['id']} is already canceled.",
        )
    raw_details = params.get("cancellation_details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    now = a.now_int()
    sub = flows.set_sub_status(
        a,
        sub["id"],
        "canceled",
        now,
        _req(ctx),
        canceled_at=now,
        ended_at=now,
        cancellation_details={
            "comment": details.get("comment"),
            "feedback": details.get("feedback"),
            "reason": "cancellation_requested",
        },
    )
    return 200, render(a, sub, as_list(params, "expand"))


def update_subscription(
    ctx: Ctx, rest: list[str], params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """POST /v1/subscriptions/{id}: metadata, cancel_at_period_end, cancellation_details."""
    check_known(
        params,
        {
            "metadata",
            "cancel_at_period_end",
            "cancellation_details",
            "cancel_at",
            "expand",
            "proration_behavior",
        },
    )
    a = ctx.account
    sub = a.require("subscription", rest[0])
    changes: dict[str, Any] = {}
    if "cancel_at_period_end" in params:
        flag = as_bool(params, "cancel_at_period_end", False)
        if sub["status"] == "canceled":
            raise ApiError(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        changes["cancel_at_period_end"] = flag
        changes["cancel_at"] = sub["items"]["data"][0]["current_period_end"] if flag else None
        changes["canceled_at"] = a.now_int() if flag else None
    if "cancel_at" in params:
        changes["cancel_at"] = as_int(params, "cancel_at") if params["cancel_at"] != "" else None
    metadata = as_metadata(params)
    if metadata is not None:
        changes["metadata"] = {k: v for k, v in {**sub["metadata"], **metadata}.items() if v != ""}
    if isinstance(params.get("cancellation_details"), dict):
        cd = params["cancellation_details"]
        changes["cancellation_details"] = dict(
            sub["cancellation_details"], **{k: cd[k] for k in ("comment", "feedback") if k in cd}
        )
    previous = {k: sub.get(k) for k in changes}
    sub = a.update(sub["id"], **changes)
    flows._emit(a, "customer.subscription.updated", sub, a.now_int(), _req(ctx), previous)
    return 200, render(a, sub, as_list(params, "expand"))


def pay_invoice(ctx: Ctx, rest: list[str], params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /v1/invoices/{id}/pay: retry the payment now (402 card_error when declined)."""
    check_known(
        params,
        {
            "forgive",
            "mandate",
            "off_session",
            "paid_out_of_band",
            "payment_method",
            "source",
            "expand",
        },
    )
    a = ctx.account
    inv = a.require("invoice", rest[0])
    if inv["status"] == "paid":
        raise ApiError(400, "Invoice is already paid")
    if inv["status"] != "open":
        raise ApiError(
            400, f"You can only pay an invoice that is open. This invoice is {inv['status']}."
        )
    now = a.now_int()
    if as_bool(params, "paid_out_of_band", False):
        inv = a.update(
            inv["id"],
            status="paid",
            amount_remaining=0,
            next_payment_attempt=None,
            status_transitions={**inv["status_transitions"], "paid_at": now},
        )
        flows._emit(a, "invoice.paid", inv, now, _req(ctx))
        return 200, render(a, inv, as_list(params, "expand"))
    cust_meta = a.meta[inv["customer"]]
    decline = cust_meta.pop("next_decline", None)
    if decline is None:
        last = cust_meta.get("last_decline")
        decline = (
            last
            if last and last not in declines.RECOVERABLE and not as_str(params, "payment_method")
            else None
        )
    result = flows.attempt_invoice_payment(a, inv["id"], now, decline, a.rng, _req(ctx))
    if decline:
        fcode, message = declines.failure(decline)
        pi = a.objects[result["payment_intent"]]
        raise ApiError(
            402,
            message,
            type_="card_error",
            code=fcode,
            extra={
                "decline_code": decline if fcode == "card_declined" else None,
                "charge": result["charge"],
                "advice_code": declines.DECLINES[decline][2],
                "payment_intent": pi,
            },
        )
    return 200, render(a, a.objects[inv["id"]], as_list(params, "expand"))
