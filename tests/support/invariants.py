"""The governance invariants, read from the sandbox's own records and the desk's database.

Each check returns the list of violations it found (empty when the invariant holds), so the
state machine in tests/jobs/test_governance_invariants.py can assert after every step and say
exactly what broke.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email import message_from_string
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.adapters.outbox import message_id
from core.adapters.stripe_gateway import StripeGateway
from core.governance.executor import METADATA_IDEMPOTENCY, METADATA_KEY
from core.governance.policy import Policy
from core.governance.states import can_transition
from core.models.governance import ActionRequest, Approval, AuditEntry, OutboxMessage, User


@dataclass(frozen=True)
class Effect:
    """One money move in Stripe made on behalf of a desk action."""

    action_id: int
    kind: str  # "refund" | "credit"
    stripe_id: str
    amount: int
    currency: str


@dataclass(frozen=True)
class Since:
    """Where one example of the state machine starts: what existed before is not its business."""

    audit_id: int = 0
    action_id: int = 0
    outbox_id: int = 0
    user_prefix: str = ""

    @classmethod
    def now(cls, session: Session, user_prefix: str) -> Since:
        def newest(column: Any) -> int:
            return int(session.scalar(select(func.max(column))) or 0)

        return cls(
            newest(AuditEntry.id), newest(ActionRequest.id), newest(OutboxMessage.id), user_prefix
        )


def stripe_effects(
    gw: StripeGateway, charges: Iterable[str], customers: Iterable[str]
) -> list[Effect]:
    """Every refund of `charges` and every credit to `customers` the desk made, as the sandbox
    reports them (an action only ever moves money on the charge or customer it names)."""
    found: list[Effect] = []
    for charge in sorted(set(charges)):
        for refund in gw.list_refunds(charge=charge):
            meta = refund.get("metadata") or {}
            if METADATA_IDEMPOTENCY in meta:
                found.append(
                    Effect(
                        int(meta[METADATA_KEY]),
                        "refund",
                        refund["id"],
                        int(refund["amount"]),
                        refund["currency"],
                    )
                )
    for customer in sorted(set(customers)):
        page = gw.call(
            gw.client.v1.customers.balance_transactions.list,
            customer,
            {"limit": 100},
            gw._options(),
        )
        for txn in page["data"]:
            meta = txn.get("metadata") or {}
            if METADATA_IDEMPOTENCY in meta:
                found.append(
                    Effect(
                        int(meta[METADATA_KEY]),
                        "credit",
                        txn["id"],
                        abs(int(txn["amount"])),
                        txn["currency"],
                    )
                )
    return found


def effect_problems(
    session: Session,
    effects: list[Effect],
    policy: Policy,
    approved_at: dict[tuple[int, str], datetime],
) -> list[str]:
    """No money move without the policy's approvers; at most one Stripe effect per action.

    Approvers are counted as the policy means them: distinct people, not the requester, who held
    an approving role when they decided and decided before the request expired (`approved_at`
    is the desk time of each approval the test saw accepted).
    """
    problems: list[str] = []
    per_action: dict[int, list[Effect]] = defaultdict(list)
    for e in effects:
        per_action[e.action_id].append(e)
    for action_id, moves in sorted(per_action.items()):
        if len(moves) > 1:
            problems.append(f"action #{action_id} moved money {len(moves)} times: {moves}")
        action = session.get(ActionRequest, action_id, populate_existing=True)
        if action is None:
            problems.append(f"Stripe effect {moves[0].stripe_id} names unknown action #{action_id}")
            continue
        rules = policy.for_action(action.action_type)
        approvers = {
            a.username
            for a in session.scalars(select(Approval).where(Approval.action_id == action_id))
            if a.decision == "approve"
            and a.username != action.requested_by
            and a.role in rules.roles
            and (action_id, a.username) in approved_at
            and (
                action.expires_at is None
                or approved_at[(action_id, a.username)] < action.expires_at
            )
        }
        rejected = session.scalar(
            select(Approval.id).where(
                Approval.action_id == action_id, Approval.decision == "reject"
            )
        )
        if rejected is not None:
            problems.append(f"action #{action_id} moved money although it was rejected")
        for move in moves:
            needed = max(1, rules.required_approvals(move.amount, move.currency))
            if len(approvers) < needed:
                problems.append(
                    f"action #{action_id} ({action.action_type}) moved {move.amount} "
                    f"{move.currency} as {move.stripe_id} with {len(approvers)} valid "
                    f"approver(s) {sorted(approvers)}; the policy needs {needed}"
                )
    return problems


def audit_problems(session: Session, since: Since | None = None) -> list[str]:
    """Every state change of an action, decision, delivery and role is in the audit chain.

    With `since`, only what was created after it is checked (its audit entries all follow it),
    which keeps each check as cheap in the hundredth example as in the first."""
    since = since or Since()
    problems: list[str] = []
    history: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for target, what, actor, after in session.execute(
        select(AuditEntry.target, AuditEntry.action, AuditEntry.actor, AuditEntry.after)
        .where(AuditEntry.id > since.audit_id)
        .order_by(AuditEntry.id)
    ):
        status = (after or {}).get("status") or (after or {}).get("role") or ""
        history[target].append((what, actor, status))
    for action in session.scalars(
        select(ActionRequest)
        .where(ActionRequest.id > since.action_id)
        .execution_options(populate_existing=True)
    ):
        rows = history.get(f"action:{action.id}", [])
        statuses = [s for what, _, s in rows if s and what != "action.joined"]
        if not rows or rows[0][0] != "action.requested":
            problems.append(f"action #{action.id}: its request is not audited first: {rows[:1]}")
            continue
        for a, b in zip(statuses, statuses[1:], strict=False):
            if a != b and not can_transition(a, b):
                problems.append(f"action #{action.id}: audit shows {a} → {b}, an illegal move")
        if not statuses or statuses[-1] != action.status:
            problems.append(
                f"action #{action.id} is '{action.status}' but its audit trail ends at "
                f"{statuses[-1:]}"
            )
        decided = {(actor, what) for what, actor, _ in rows}
        for ap in session.scalars(select(Approval).where(Approval.action_id == action.id)):
            kinds = (
                ("action.rejected",)
                if ap.decision == "reject"
                else ("action.approval_recorded", "action.approved")
            )
            if not any((ap.username, k) in decided for k in kinds):
                problems.append(f"action #{action.id}: {ap.username}'s {ap.decision} not audited")
    for msg in session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.id > since.outbox_id,
            OutboxMessage.status.in_(("sent", "superseded", "failed", "unknown")),
        )
    ):
        outcomes = [what for what, _, _ in history.get(f"outbox:{msg.id}", [])]
        if f"outbox.{msg.status}" not in outcomes:
            problems.append(f"outbox #{msg.id} is {msg.status} but the audit has {outcomes}")
    for user in session.scalars(select(User).where(User.username.startswith(since.user_prefix))):
        roles = [s for what, _, s in history.get(f"user:{user.username}", []) if s]
        if not roles or roles[-1] != user.role:
            problems.append(f"user {user.username} is {user.role}, the audit says {roles[-1:]}")
    return problems


def delivered_about(session: Session, received: list[dict[str, Any]]) -> list[str | None]:
    """What each received email is about (its outbox message's `related` object)."""
    by_message_id = {
        message_id(m.dedupe_key): m.related
        for m in session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email"))
    }
    out: list[str | None] = []
    for mail in received:
        header = message_from_string(mail["data"]).get("Message-ID", "")
        out.append(by_message_id.get(header.strip()))
    return out
