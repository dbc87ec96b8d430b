"""The action-request state machine: statuses, action types and the explicit transition table.

    requested ──► approved ◄─► executing ──► succeeded
        │            │            ├────────► failed
        │            │            └────────► superseded
        (executing ──► approved: returned unspent, the key may not make the call)
        ├──► rejected└──► superseded
        ├──► expired
        └──► superseded

Pure: plain data in and out, no database. An illegal move raises `InvalidTransition`.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition


class ActionStatus(StrEnum):
    """Where an action request is in its life."""

    REQUESTED = "requested"
    APPROVED = "approved"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class ActionType(StrEnum):
    """Everything the desk can be asked to do."""

    REFUND = "refund"
    CUSTOMER_CREDIT = "customer_credit"
    SEND_MESSAGE = "send_message"
    SUBMIT_DISPUTE_EVIDENCE = "submit_dispute_evidence"
    ACCEPT_DISPUTE = "accept_dispute"
    CANCEL_SUBSCRIPTION = "cancel_subscription"
    PAUSE_ACCESS = "pause_access"
    RESTORE_ACCESS = "restore_access"
    RETRY_INVOICE_PAYMENT = "retry_invoice_payment"
    CREATE_TASK = "create_task"
    ADD_NOTE = "add_note"
    NOTIFY_CHANNEL = "notify_channel"


# Internal bookkeeping that moves no money and reaches no customer: no approval needed.
INTERNAL_TYPES = frozenset({ActionType.CREATE_TASK, ActionType.ADD_NOTE, ActionType.NOTIFY_CHANNEL})
# Types that move money; the approval page asks for confirmation in a dialog.
MONEY_TYPES = frozenset(
    {
        ActionType.REFUND,
        ActionType.CUSTOMER_CREDIT,
        ActionType.ACCEPT_DISPUTE,
        ActionType.RETRY_INVOICE_PAYMENT,
    }
)

S = ActionStatus
TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.SUPERSEDED}),
    S.APPROVED: frozenset({S.EXECUTING, S.SUPERSEDED}),
    # executing → approved: returned unspent when the API key may not make the call
    S.EXECUTING: frozenset({S.SUCCEEDED, S.FAILED, S.SUPERSEDED, S.APPROVED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.SUPERSEDED: frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN = frozenset({S.REQUESTED, S.APPROVED, S.EXECUTING})


def can_transition(current: str, new: str) -> bool:
    """Whether the table allows moving from `current` to `new`."""
    try:
        return ActionStatus(new) in TRANSITIONS[ActionStatus(current)]
    except ValueError:
        return False


def check_transition(current: str, new: str) -> ActionStatus:
    """Return the new status, or raise InvalidTransition naming the illegal move."""
    if not can_transition(current, new):
        raise InvalidTransition(
            f"An action that is '{current}' cannot become '{new}'; reload to see its current state."
        )
    return ActionStatus(new)
