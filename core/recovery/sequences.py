"""Dunning sequences: the policy's `[[recovery.sequences]]` rules send the approved template on
day 0, 3, 7 … after the first failed payment without a per-message approval.

Each step is a `send_message` action pre-approved by the rule (core/governance/preapproval.py):
audited under the rule's id, re-read against Stripe by the executor and re-checked by the outbox
just before it goes, and made once per case and step (dedupe key `dunning:<invoice>:step<n>`),
whatever re-runs happen. The text is always the approved template rendered from the case's
facts, never a stored draft (which may be an AI rewrite or an operator's edit). A sequence stops
when the invoice is settled or the customer opens a help-desk ticket after the first send; it
never starts for escalated, fraud-related or temporary-decline cases, nor while Stripe's own
retries run within the grace period. A step that came due while the desk was down is skipped
for the latest due one, so a late run sends one message, not a burst.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.governance import audit
from core.governance.auth import SYSTEM_ACTOR
from core.governance.policy import Policy, SequenceRule
from core.governance.preapproval import request_pre_approved
from core.models.base import utcnow
from core.models.context import HelpdeskTicket
from core.models.governance import ActionRequest, AuditEntry
from core.models.recovery import RecoveryCase
from core.recovery.classification import Bucket
from core.recovery.drafting import render
from core.recovery.drafts import draft_facts
from core.recovery.message_checks import SETTLED
from core.recovery.rules import RecoverySettings
from core.sync.snapshots import get_object

KEY_PREFIX = "dunning:"
NEVER_AUTOMATIC = (Bucket.temporary, Bucket.fraud_related)
STOPPED_AUDIT = "recovery.sequence_stopped"


def step_key(invoice_id: str, step: int) -> str:
    """The dedupe key of one step of one case's sequence."""
    return f"{KEY_PREFIX}{invoice_id}:step{step}"


@dataclass
class SequenceReport:
    """What one run did: the steps sent (invoice, step, action id) and why others waited."""

    sent: list[tuple[str, int, int]] = field(default_factory=list)
    stopped: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)

    def wait(self, why: str) -> None:
        """Count one case that gets nothing this run."""
        self.waiting[why] = self.waiting.get(why, 0) + 1

    def summary(self) -> str:
        """One line for the CLI and the scheduler log."""
        if not self.sent and not self.stopped and not self.waiting:
            return "dunning: no sequence applies (none in the policy, or no case qualifies)"
        parts = [f"{len(self.sent)} pre-approved e-mails queued for sending"]
        parts += [f"{n} stopped ({why})" for why, n in sorted(self.stopped.items())]
        parts += [f"{n} waiting ({why})" for why, n in sorted(self.waiting.items())]
        return "dunning: " + ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """For --json."""
        return {
            "sent": [{"invoice": i, "step": s, "action": a} for i, s, a in self.sent],
            "stopped": self.stopped,
            "waiting": self.waiting,
        }


def rule_for(policy: Policy, case: RecoveryCase) -> SequenceRule | None:
    """The first sequence rule covering the case's segment, amount due and currency."""
    amount = case.amount_remaining or case.amount_due
    return next(
        (r for r in policy.sequences if r.covers(case.segment, amount, case.currency)), None
    )


def _sent_steps(session: Session, invoice_id: str) -> list[ActionRequest]:
    return list(
        session.scalars(
            select(ActionRequest)
            .where(ActionRequest.dedupe_key.like(f"{KEY_PREFIX}{invoice_id}:step%"))
            .order_by(ActionRequest.created_at)
        )
    )


def _customer_replied(session: Session, case: RecoveryCase, since: datetime) -> bool:
    who = [HelpdeskTicket.stripe_customer_id == case.customer_id] if case.customer_id else []
    if case.customer_email:
        who.append(HelpdeskTicket.email == case.customer_email.lower())
    if not who:
        return False
    found = session.scalar(
        select(func.count())
        .select_from(HelpdeskTicket)
        .where(or_(*who), HelpdeskTicket.created_at > since)
    )
    return bool(found)


def _stop(session: Session, report: SequenceReport, case: RecoveryCase, why: str) -> None:
    report.stopped[why] = report.stopped.get(why, 0) + 1
    target = f"recovery_case:{case.id}"
    if session.scalar(
        select(AuditEntry.id).where(AuditEntry.target == target, AuditEntry.action == STOPPED_AUDIT)
    ):
        return
    audit.record(
        session, SYSTEM_ACTOR, STOPPED_AUDIT, target, None, {"invoice": case.invoice_id, "why": why}
    )


def _why_not_now(
    session: Session, case: RecoveryCase, cfg: RecoverySettings, now: datetime
) -> str | None:
    if not case.customer_email:
        return "no customer e-mail"
    if case.escalated:
        return "escalated to a person"
    if case.bucket in NEVER_AUTOMATIC:
        return f"{case.bucket} declines are never dunned automatically"
    hours = (now.timestamp() - case.first_failed_at) / 3600
    retrying = case.next_payment_attempt is not None
    if case.bucket == Bucket.insufficient_funds and retrying and hours < cfg.grace_period_hours:
        return "Stripe's retries run in the grace period"
    if case.last_message_at is not None:
        if now - case.last_message_at < timedelta(hours=cfg.quiet_period_hours):
            return "quiet period after the last message"
    return None


def run_sequences(
    session: Session,
    policy: Policy,
    cfg: RecoverySettings,
    *,
    now: datetime | None = None,
    tz: Any = None,
) -> SequenceReport:
    """Queue the due step of every open case a sequence rule covers; each step at most once."""
    report = SequenceReport()
    if not policy.sequences:
        return report
    now = now or utcnow()
    cases = session.scalars(
        select(RecoveryCase).where(RecoveryCase.status == "open").order_by(RecoveryCase.id)
    ).all()
    for case in cases:
        rule = rule_for(policy, case)
        if rule is None:
            continue
        steps = _sent_steps(session, case.invoice_id)
        inv = get_object(session, case.invoice_id) or {}
        if inv.get("status") in SETTLED:
            _stop(session, report, case, f"invoice {inv.get('status')}")
            continue
        if steps and _customer_replied(session, case, steps[0].created_at):
            _stop(session, report, case, "the customer replied")
            continue
        elapsed_days = (now.timestamp() - case.first_failed_at) / 86400
        due = [i for i, day in enumerate(rule.days) if day <= elapsed_days]
        if not due:
            report.wait("first step not due yet")
            continue
        step = due[-1]
        done = [int(a.dedupe_key.rsplit("step", 1)[1]) for a in steps if a.dedupe_key]
        if done and max(done) >= step:
            continue  # this step (or a later one) was made already: never twice
        why = _why_not_now(session, case, cfg, now)
        if why:
            report.wait(why)
            continue
        action = _send_step(session, policy, rule, case, cfg, step, tz)
        if action is not None:
            report.sent.append((case.invoice_id, step, action.id))
    return report


def _send_step(
    session: Session,
    policy: Policy,
    rule: SequenceRule,
    case: RecoveryCase,
    cfg: RecoverySettings,
    step: int,
    tz: Any,
) -> ActionRequest | None:
    # Always the approved template, rendered now; no model, no stored draft.
    facts = draft_facts(case, cfg, tz) if tz is not None else draft_facts(case, cfg)
    draft = render(case.bucket, "email", case.tone, facts)
    action, made = request_pre_approved(
        session,
        policy,
        rule.rule_id,
        target_id=case.invoice_id,
        account=case.account,
        params={
            "to": case.customer_email,
            "subject": draft.subject,
            "body": draft.body,
            "invoice": case.invoice_id,
            "channel": "email",
        },
        reason=f"Dunning sequence {rule.rule_id}, step {step + 1} of {len(rule.days)} "
        f"(day {rule.days[step]} after the failed payment)",
        evidence={
            "amount": case.amount_remaining,
            "currency": case.currency,
            "bucket": case.bucket,
            "segment": case.segment,
            "step": step,
            "day": rule.days[step],
            "template": f"{draft.ref.template_id}@{draft.ref.version}",
            "model": None,
        },
        dedupe_key=step_key(case.invoice_id, step),
    )
    if not made:
        return None
    case.last_message_attempt, case.last_message_at = case.attempt_count, utcnow()
    return action
