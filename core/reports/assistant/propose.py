"""The one tool that proposes: an ordinary action request that waits for approval.

The request goes through core/governance/requests.py like one made on a page: the amount and
currency come from the synced Stripe object (a refund is the charge's whole refundable
remainder), never from the model; the policy decides who approves; the requester is the person
who asked the question. Nothing is executed here.
"""

from __future__ import annotations

from typing import Any

from core.errors import CoreError
from core.governance import requests as desk
from core.governance.states import ActionType
from core.reports.assistant.spec import Context, Result, ToolRefused, money

T = ActionType
PROPOSABLE = (
    T.RETRY_INVOICE_PAYMENT,
    T.REFUND,
    T.CANCEL_SUBSCRIPTION,
    T.PAUSE_ACCESS,
    T.RESTORE_ACCESS,
)
REASON_PREFIX = "Proposed from the desk assistant: "


def propose_action(ctx: Context, args: dict[str, Any]) -> Result:
    """Create the request; what the request code refuses is told to the model."""
    reason = REASON_PREFIX + " ".join(str(args["reason"]).split())[:500]
    try:
        outcome = desk.request(
            ctx.session,
            ctx.actor,
            str(args["action_type"]),
            str(args["target_id"]).strip(),
            reason,
            source=f"desk assistant session {ctx.ref}",
            rule_id=f"assistant.{args['action_type']}",
        )
    except CoreError as exc:
        raise ToolRefused(f"The request was not made: {exc}") from None
    t = outcome.terms
    row = {
        "action_id": outcome.action_id,
        "status": outcome.status,
        "joined_open_request": outcome.joined,
        "action_type": t.action_type,
        "target_id": t.target_id,
        "amount": money(t.amount, t.currency),
        "amount_text": t.amount_text if t.amount is not None else None,
        "approvals_needed": t.approvals_needed,
        "policy_rule": t.rule,
    }
    return Result(
        [row],
        [{"kind": "action_request", "id": str(outcome.action_id), "ref": t.target_id}],
        note="The request waits for approval on the Approvals page; nothing has been executed.",
    )


PARAMETERS: dict[str, Any] = {
    "action_type": {"type": "string", "enum": [str(a) for a in PROPOSABLE]},
    "target_id": {
        "type": "string",
        "minLength": 3,
        "maxLength": 255,
        "pattern": "^(in|ch|sub|cus)_[A-Za-z0-9_]+$",
        "description": "The Stripe id acted on: in_ (retry), ch_ (refund, the whole refundable "
        "remainder), sub_ (cancel), cus_ (pause or restore access).",
    },
    "reason": {"type": "string", "minLength": 3, "maxLength": 500},
}
