"""Recovery drafts: render from templates, optionally personalise, edit, and ask to send.

Dunning has one owner: a customer message leaves only through an approved `send_message`
action whose dedupe key is `recovery:<invoice>:<attempt>:email` (one message per invoice per
failed attempt), never while the quiet period runs, never once the case is closed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.adapters.draft_guard import RewriteModel, guarded_rewrite
from core.adapters.metered import MeteredModel
from core.config import Settings
from core.errors import InputError, InvalidTransition, NotFound
from core.governance import audit
from core.governance.actions import request_action, supersede_open_for_target
from core.governance.auth import Actor, require_role
from core.governance.policy import Policy
from core.models.base import utcnow
from core.models.recovery import RecoveryCase, RecoveryDraft
from core.money import format_money
from core.recovery.classification import BUCKET_LABELS, Bucket
from core.recovery.drafting import Draft, inputs_hash, render
from core.recovery.rules import RecoverySettings
from core.sync.snapshots import get_object

OUTSTANDING = ("draft", "edited", "requested")
SENDABLE_CHANNELS = {"email": "send_message", "task": "create_task"}


def invoice_reference(number: str | None, first_failed_at: int | None, tz: Any = UTC) -> str:
    """How a message names the invoice: Stripe's invoice number (e.g. "A9WNODH8-0042"), else its
    date — never the `in_` id, which means nothing to a customer."""
    if number:
        return number
    if first_failed_at:
        return (
            datetime.fromtimestamp(first_failed_at, UTC).astimezone(tz).strftime("dated %B %-d, %Y")
        )
    return "on your account"


def draft_facts(
    case: RecoveryCase, cfg: RecoverySettings, tz: Any = UTC, *, invoice_number: str | None = None
) -> dict[str, Any]:
    """The template's facts, all from Stripe data and the case (no card data)."""
    next_retry = (
        datetime.fromtimestamp(case.next_payment_attempt, UTC).astimezone(tz).strftime("%B %-d, %Y")
        if case.next_payment_attempt
        else None
    )
    return {
        "customer_name": case.customer_name,
        "customer_id": case.customer_id,
        "account_name": case.customer_name or case.customer_email,
        "invoice_number": invoice_reference(invoice_number, case.first_failed_at, tz),
        "amount": format_money(case.amount_remaining or case.amount_due, case.currency),
        "hosted_invoice_url": case.hosted_invoice_url or "your billing page",
        "next_retry": next_retry,
        "attempt": case.attempt_count,
        "sender_name": cfg.sender_name,
        "bucket_label": BUCKET_LABELS[Bucket(case.bucket)],
        "recommended_action": case.recommended_action.replace("_", " "),
        "rule_reasons": [h["reason"] for h in case.rule_hits or []],
    }


def _store(
    session: Session,
    case: RecoveryCase,
    draft: Draft,
    digest: str,
    *,
    model: str | None,
    guard: str,
    usage: tuple[int, int, int],
    created_by: str,
) -> RecoveryDraft:
    row = RecoveryDraft(
        case_id=case.id,
        kind="dunning",
        customer_id=case.customer_id,
        subscription_id=case.subscription_id,
        to_email=case.customer_email,
        attempt=case.attempt_count,
        channel=draft.channel,
        template_id=draft.ref.template_id,
        template_version=draft.ref.version,
        tone=draft.tone,
        subject=draft.subject,
        body=draft.body,
        inputs_hash=digest,
        model=model,
        guard=guard,
        prompt_tokens=usage[0],
        completion_tokens=usage[1],
        cost_micro_usd=usage[2],
        status="draft",
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row


def _existing(session: Session, digest: str) -> RecoveryDraft | None:
    return session.scalar(select(RecoveryDraft).where(RecoveryDraft.inputs_hash == digest))


def create_draft(
    session: Session,
    case: RecoveryCase,
    channel: str,
    cfg: RecoverySettings,
    *,
    llm: RewriteModel | None = None,
    created_by: str = "system",
) -> RecoveryDraft:
    """The draft for this case, attempt and channel; the same inputs never generate twice."""
    if case.status != "open":
        raise InvalidTransition(f"The case is {case.status}: no new drafts after it closed.")
    invoice = get_object(session, case.invoice_id) or {}
    facts = draft_facts(case, cfg, invoice_number=invoice.get("number"))
    draft = render(case.bucket, channel, case.tone, facts)
    model = llm.model if llm is not None and draft.free_parts else None
    digest = inputs_hash(
        case_key=case.invoice_id,
        attempt=case.attempt_count,
        draft=draft,
        facts=facts,
        model=model,
    )
    found = _existing(session, digest)
    if found is not None:
        return found
    guard, usage = "template", (0, 0, 0)
    if model is not None:
        outcome = guarded_rewrite(
            llm,
            tone=draft.tone,
            free_parts=draft.free_parts,
            locked_sentences=draft.locked_sentences,
            # Stripe ids are no words for a customer: a rewrite may not bring one in.
            allowed_facts=[
                str(v) for k, v in facts.items() if isinstance(v, str | int) and k != "customer_id"
            ],
            # Only what the wording needs: the name to greet. Never card data or ticket text.
            data={"customer_name": facts["customer_name"]},
            assemble=lambda parts: draft.with_free_parts(parts).body,
        )
        guard, usage = (
            outcome.verdict,
            (outcome.prompt_tokens, outcome.completion_tokens, outcome.cost_micro_usd),
        )
        if outcome.parts is not None:
            draft = draft.with_free_parts(outcome.parts)
    # Older open drafts of this channel are overtaken by the new one.
    for old in session.scalars(
        select(RecoveryDraft).where(
            RecoveryDraft.case_id == case.id,
            RecoveryDraft.channel == channel,
            RecoveryDraft.status.in_(("draft", "edited")),
        )
    ):
        old.status = "superseded"
    return _store(
        session,
        case,
        draft,
        digest,
        model=model,
        guard=guard,
        usage=usage,
        created_by=created_by,
    )


def ensure_auto_drafts(
    session: Session, case: RecoveryCase, cfg: RecoverySettings
) -> list[RecoveryDraft]:
    """Drafts the handler makes: a customer e-mail (unless retries should run), a task if escalated."""
    made: list[RecoveryDraft] = []
    if not case.in_grace_period and case.bucket != Bucket.temporary:
        made.append(create_draft(session, case, "email", cfg))
    if case.escalated:
        made.append(create_draft(session, case, "task", cfg))
    return made


def drafts_of(session: Session, case_id: int) -> list[RecoveryDraft]:
    """A case's drafts, newest first."""
    return list(
        session.scalars(
            select(RecoveryDraft)
            .where(RecoveryDraft.case_id == case_id)
            .order_by(RecoveryDraft.id.desc())
        )
    )


def outstanding_drafts(session: Session, case_id: int) -> list[RecoveryDraft]:
    """Drafts still waiting for someone (draft, edited or requested)."""
    return [d for d in drafts_of(session, case_id) if d.status in OUTSTANDING]


def supersede_outstanding(session: Session, case: RecoveryCase, reason: str) -> None:
    """Close a case's open drafts and its pending send requests (the invoice is settled)."""
    for d in outstanding_drafts(session, case.id):
        d.status, d.updated_at = "superseded", utcnow()
    supersede_open_for_target(
        session, "system", case.invoice_id, reason, action_types=("send_message",)
    )


def _get_draft(session: Session, draft_id: int) -> tuple[RecoveryDraft, RecoveryCase]:
    draft = session.get(RecoveryDraft, draft_id)
    if draft is None:
        raise NotFound(f"Draft #{draft_id} does not exist; reload the case.")
    case = session.get(RecoveryCase, draft.case_id) if draft.case_id is not None else None
    if case is None:
        raise NotFound(
            f"Draft #{draft_id} is a pre-dunning draft; send it from the pre-dunning list."
        )
    return draft, case


def edit_draft(
    session: Session, actor: Actor, draft_id: int, subject: str, body: str
) -> RecoveryDraft:
    """An operator's edit of an open draft (audited)."""
    require_role(actor, "operator", "approver", "admin")
    draft, case = _get_draft(session, draft_id)
    if draft.status not in ("draft", "edited") or case.status != "open":
        raise InvalidTransition(f"This draft is {draft.status} and can no longer be edited.")
    if not subject.strip() or not body.strip():
        raise InputError("A draft needs a subject and a body.")
    before = {"subject": draft.subject, "body": draft.body}
    draft.subject, draft.body, draft.status = subject.strip(), body.strip(), "edited"
    draft.edited_by, draft.updated_at = actor.username, utcnow()
    audit.record(
        session,
        actor,
        "recovery.draft_edited",
        f"draft:{draft.id}",
        before,
        {"subject": draft.subject, "body": draft.body},
    )
    return draft


def request_send(
    session: Session,
    actor: Actor,
    draft_id: int,
    cfg: RecoverySettings,
    *,
    now: datetime | None = None,
    policy: Policy | None = None,
) -> Any:
    """Ask for approval to send a draft (e-mail) or to create the task; returns the action."""
    require_role(actor, "operator", "approver", "admin")
    now = now or utcnow()
    draft, case = _get_draft(session, draft_id)
    if case.status != "open":
        raise InvalidTransition(
            f"The invoice is settled (case {case.status}): nothing is sent now."
        )
    if draft.status not in ("draft", "edited"):
        raise InvalidTransition(f"This draft is already {draft.status}.")
    action_type = SENDABLE_CHANNELS.get(draft.channel)
    if action_type is None:
        raise InputError(
            "Chat drafts are copied into the in-app messenger; only e-mails and tasks are sent from here."
        )
    if action_type == "send_message":
        if not case.customer_email:
            raise InputError(
                "The invoice has no customer e-mail: add one in Stripe, then try again."
            )
        if case.last_message_at and case.last_message_attempt != draft.attempt:
            allowed = case.last_message_at + timedelta(hours=cfg.quiet_period_hours)
            if now < allowed:
                raise InputError(
                    f"Quiet period: the last message went out at {case.last_message_at:%Y-%m-%d %H:%M} UTC; "
                    f"the next may be requested after {allowed:%Y-%m-%d %H:%M} UTC."
                )
    hit = case.rule_hits[0] if case.rule_hits else None
    action = request_action(
        session,
        actor,
        action_type=action_type,
        target_id=case.invoice_id,
        account=case.account,
        params={
            "to": case.customer_email,
            "subject": draft.subject,
            "body": draft.body,
            "invoice": case.invoice_id,
            "channel": draft.channel,
            "draft_id": draft.id,
        },
        reason=f"Recovery {draft.channel} for failed attempt {draft.attempt} ({case.bucket})",
        rule_id=hit["rule_id"] if hit else f"recovery.bucket.{case.bucket}",
        policy_version=case.policy_version,
        evidence={
            "amount": case.amount_remaining,
            "currency": case.currency,
            "bucket": case.bucket,
            "attempt": draft.attempt,
            "customer_value": case.customer_value,
            "segment": case.segment,
            "high_risk": case.high_risk,
            "template": f"{draft.template_id}@{draft.template_version}",
        },
        dedupe_key=f"recovery:{case.invoice_id}:{draft.attempt}:{draft.channel}",
        policy=policy,
    )
    draft.status, draft.action_request_id, draft.updated_at = (
        "requested",
        action.id,
        now,
    )
    if action_type == "send_message":
        case.last_message_attempt, case.last_message_at = draft.attempt, now
    audit.record(
        session,
        actor,
        "recovery.send_requested",
        f"draft:{draft.id}",
        None,
        {"action_id": action.id, "invoice": case.invoice_id, "attempt": draft.attempt},
    )
    return action


def draft_for_operator(
    session: Session,
    actor: Actor,
    case_id: int,
    channel: str,
    cfg: RecoverySettings,
    llm: RewriteModel | None = None,
    settings: Settings | None = None,
) -> RecoveryDraft:
    """An operator asks for a draft on another channel, or an AI-personalised one (audited).

    A model call is asked of the day's budget first and booked as "draft" (`settings` says the
    budget); a spent budget keeps the template, as a failing model does.
    """
    require_role(actor, "operator", "approver", "admin")
    case = session.get(RecoveryCase, case_id)
    if case is None:
        raise NotFound(f"Recovery case #{case_id} does not exist; reload the page.")
    if llm is not None:
        if settings is None:
            raise ValueError("a model draft needs the settings that hold its budget")
        llm = MeteredModel(
            llm, session, settings, "draft", actor=actor.username, ref=f"recovery_case:{case_id}"
        )
    draft = create_draft(session, case, channel, cfg, llm=llm, created_by=actor.username)
    audit.record(
        session, actor, "recovery.draft_created", f"draft:{draft.id}", None,
        {"channel": channel, "template": draft.template_id, "model": draft.model, "guard": draft.guard},
    )  # fmt: skip
    return draft
