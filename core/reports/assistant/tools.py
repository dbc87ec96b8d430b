"""The fixed set of tools and the one place a tool call is run: role check, argument check, audit.

A call to a tool that does not exist, or that the caller's role may not make, is refused here, in
core, and the refusal goes back to the model as the tool's result. Every call is written to the
audit log with its arguments and outcome.
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import CoreError
from core.governance import audit
from core.governance.states import ActionStatus, ActionType
from core.reports.assistant import mrr, propose, queries
from core.reports.assistant.spec import LIMIT, PERIOD, Context, Result, Tool, ToolRefused, params

REQUEST_STATUSES = tuple(str(s) for s in ActionStatus)
RECORD_KINDS = ("recovery_case", "dispute", "customer", "ticket", "action_request")

TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "find_failed_payments",
            "Failed-payment (recovery) cases with at least min_failures failed attempts in the "
            "period, optionally of one CRM segment (e.g. enterprise) or status.",
            params(
                {
                    "period": PERIOD,
                    "min_failures": {"type": "integer", "minimum": 1, "maximum": 20},
                    "segment": {"type": "string", "maxLength": 64},
                    "status": {"type": "string", "enum": ["open", "recovered", "lost", "any"]},
                    "limit": LIMIT,
                }
            ),
            queries.find_failed_payments,
        ),
        Tool(
            "find_disputes",
            "Disputes (by default those awaiting a response), due within a number of days, above "
            "an amount in major units of a currency (e.g. 500 usd), with an open help-desk ticket.",
            params(
                {
                    "status": {"type": "string", "enum": ["awaiting_response", "any"]},
                    "due_within_days": {"type": "integer", "minimum": 0, "maximum": 120},
                    "min_amount": {"type": "number", "minimum": 0},
                    "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                    "with_open_ticket": {"type": "boolean"},
                    "limit": LIMIT,
                }
            ),
            queries.find_disputes,
        ),
        Tool(
            "explain_mrr_at_risk",
            "MRR at risk now and as of a day (a weekday name like monday, or a date), with the "
            "subscriptions newly at risk and no longer at risk since then.",
            params(
                {
                    "since": {
                        "type": "string",
                        "maxLength": 10,
                        "description": "A weekday name, 'yesterday' or YYYY-MM-DD.",
                    }
                },
                ("since",),
            ),
            mrr.explain_mrr_at_risk,
        ),
        Tool(
            "get_record",
            "One record by kind and id: a recovery case (number or invoice id), a dispute (dp_), "
            "a customer (cus_), a help-desk ticket or an action request (number).",
            params(
                {
                    "kind": {"type": "string", "enum": list(RECORD_KINDS)},
                    "id": {"type": "string", "minLength": 1, "maxLength": 255},
                },
                ("kind", "id"),
            ),
            queries.get_record,
        ),
        Tool(
            "find_requests",
            "Action requests (refunds, credits, cancellations, messages, ...), newest first; by "
            "default those waiting for approval.",
            params(
                {
                    "status": {
                        "type": "string",
                        "enum": [*REQUEST_STATUSES, "any"],
                    },
                    "action_type": {"type": "string", "enum": [str(a) for a in ActionType]},
                    "limit": LIMIT,
                }
            ),
            queries.find_requests,
        ),
        Tool(
            "propose_action",
            "Propose an action as a request that waits for a person's approval (it is not "
            "executed): retry an invoice, refund a charge in full, cancel a subscription, pause "
            "or restore a customer's access. Amounts are taken from Stripe, not given here.",
            params(propose.PARAMETERS, ("action_type", "target_id", "reason")),
            propose.propose_action,
            roles=("operator",),
            proposes=True,
        ),
    )
}


def schemas(ctx: Context) -> list[dict[str, Any]]:
    """The tools the caller's role may use, as the model is shown them."""
    return [t.schema() for t in TOOLS.values() if t.allowed(ctx.actor)]


def _outcome(tool: str, result: Result | None, error: str | None) -> dict[str, Any]:
    """The tool message's JSON: outside text only ever inside `rows` string values."""
    if error is not None:
        return {"tool": tool, "ok": False, "error": error}
    assert result is not None
    body: dict[str, Any] = {"tool": tool, "ok": True, "row_count": len(result.rows)}
    if result.extra:
        body.update(result.extra)
    body["rows"] = result.rows
    if result.note:
        body["note"] = result.note
    return body


def call(
    ctx: Context, name: str, arguments: dict[str, Any], raw: str = ""
) -> tuple[dict, Result | None]:
    """Run one tool call for the caller; returns (the JSON for the model, the result or None)."""
    tool = TOOLS.get(name)
    result: Result | None = None
    error: str | None = None
    outcome = "ok"
    try:
        if tool is None:
            outcome = "refused"
            raise ToolRefused(
                f"There is no tool named {name[:60]!r}; use one of: {', '.join(TOOLS)}."
            )
        if not tool.allowed(ctx.actor):
            outcome = "refused"
            raise ToolRefused(
                f"Your user's role ({ctx.actor.role}) may not call {name}; it needs "
                f"{' or '.join(tool.roles)} or above."
            )
        if raw and not arguments and raw.strip() not in ("{}", ""):
            outcome = "refused"
            raise ToolRefused(f"The arguments for {name} are not a JSON object.")
        checked = tool.validate(arguments)
        with ctx.session.begin_nested():
            result = tool.run(ctx, checked)
    except ToolRefused as exc:
        outcome = "refused" if outcome == "refused" else "error"
        error = str(exc)
    except CoreError as exc:
        outcome, error = "error", str(exc)
    audit.record(
        ctx.session,
        ctx.actor,
        "assistant.tool_call",
        f"assistant:{ctx.ref}",
        None,
        {
            "tool": name[:80],
            "arguments": arguments if tool is not None else {},
            "outcome": outcome,
            "error": error,
            "records": [f"{r['kind']}:{r['id']}" for r in (result.records if result else [])],
        },
    )
    return _outcome(name[:80], result, error), result


def dumps(body: dict[str, Any]) -> str:
    """The tool message's text: JSON, nothing else."""
    return json.dumps(body, ensure_ascii=False, default=str, sort_keys=False)
