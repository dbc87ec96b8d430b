"""What the team does with a dispute: stage evidence, request submission or acceptance, and
propose refunds for early fraud warnings.

Staging (`submit=false`) is not a submission: an operator may stage directly, and Stripe keeps
the draft editable. Submitting (`submit=true`) and accepting (closing) are approval actions run
by the governance executor, which re-reads the dispute first; the evidence the approver sees is
the evidence in the action's parameters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.adapters.draft_guard import RewriteModel
from core.adapters.stripe_gateway import StripeGateway
from core.disputes.cases import DISPUTE_FEE, config, get_case, stripe_object
from core.disputes.evidence.checklist import TEXT_FIELDS, cuts_in
from core.disputes.evidence.packet import build_packet, latest_packet, save_packet
from core.disputes.evidence.payload import stripe_evidence
from core.disputes.settings import DisputeConfig
from core.errors import InputError, InvalidTransition, MissingObject
from core.governance import audit
from core.governance.actions import request_action
from core.governance.auth import SYSTEM_ACTOR, Actor, require_role
from core.governance.policy import Policy
from core.models.base import utcnow
from core.models.disputes import (
    APPEAL_OPEN,
    OPEN_STATUSES,
    DisputeCase,
    EvidenceItem,
    EvidencePacket,
    is_answered,
)
from core.money import format_money

EFW_RULE = "disputes.efw_refund.v1"
SUBMIT_RULE = "disputes.submit.v1"
ACCEPT_RULE = "disputes.accept.v1"


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


def stage_of(case: DisputeCase) -> str:
    """ "appeal" during an appeal, else "response" (the first response to the dispute)."""
    return "appeal" if case.is_appeal else "response"


def _check_open(dispute: dict[str, Any]) -> None:
    details = dispute.get("evidence_details") or {}
    if dispute.get("status") not in OPEN_STATUSES:
        raise InvalidTransition(
            f"Dispute {dispute.get('id')} is '{dispute.get('status')}': it no longer takes evidence."
        )
    if is_answered(dispute.get("status"), details.get("submission_count")):
        raise InvalidTransition(f"Evidence for {dispute.get('id')} was already submitted.")
    due_by = int(details.get("due_by") or 0)
    if not due_by or due_by <= _now():
        raise InvalidTransition(f"The response deadline of {dispute.get('id')} has passed.")


def add_evidence_text(
    session: Session, actor: Actor, dispute_id: str, field: str, text: str
) -> EvidenceItem:
    """Add an operator's own text for one evidence field (it overrides the derived one)."""
    require_role(actor, "operator")
    if field not in TEXT_FIELDS:
        raise InputError(
            f"{field!r} is not a Stripe evidence text field: use one of {', '.join(TEXT_FIELDS)}."
        )
    case = get_case(session, dispute_id)
    item = EvidenceItem(case_id=case.id, field=field, text=text.strip(), added_by=actor.username)
    session.add(item)
    session.flush()
    audit.record(
        session, actor, "dispute.evidence_added", f"dispute:{dispute_id}", None, {"field": field}
    )
    return item


def prepare_packet(
    session: Session,
    actor: Actor | str,
    dispute_id: str,
    cfg: DisputeConfig | None = None,
    *,
    llm: RewriteModel | None = None,
) -> EvidencePacket:
    """Build the current packet and store it as the case's next version."""
    case = get_case(session, dispute_id)
    packet = build_packet(session, case, cfg or config(), _now(), llm=llm)
    name = actor if isinstance(actor, str) else actor.username
    return save_packet(session, case, packet, name)


def rephrase_narrative(
    session: Session,
    actor: Actor,
    dispute_id: str,
    llm: RewriteModel,
    cfg: DisputeConfig | None = None,
) -> EvidencePacket:
    """An operator asks for the AI rephrasing of the narrative (guarded; once per inputs; audited)."""
    require_role(actor, "operator")
    case = get_case(session, dispute_id)
    if case.answered:
        raise InvalidTransition(
            f"Dispute {dispute_id} is '{case.status}' or already answered: the narrative is final."
        )
    row = prepare_packet(session, actor, dispute_id, cfg, llm=llm)
    meta = row.narrative or {}
    audit.record(
        session,
        actor,
        "dispute.narrative_rephrased",
        f"dispute:{dispute_id}",
        None,
        {
            "packet_version": row.version,
            "source": meta.get("source"),
            "guard": meta.get("guard"),
            "model": meta.get("model"),
            "cost_micro_usd": meta.get("cost_micro_usd"),
        },
    )
    return row


def stage_evidence(
    session: Session,
    actor: Actor,
    gateway: StripeGateway,
    dispute_id: str,
    cfg: DisputeConfig | None = None,
) -> EvidencePacket:
    """Stage the packet on the Stripe dispute with submit=false, after re-reading the dispute."""
    require_role(actor, "operator")
    dispute = gateway.retrieve("disputes", dispute_id)
    _check_open(dispute)
    appeal = dispute.get("status") == APPEAL_OPEN
    row = prepare_packet(session, actor, dispute_id, cfg)
    # One key per packet version and stage: staging the same version again is a harmless replay.
    gateway.update_dispute(
        dispute_id,
        evidence=stripe_evidence(row.evidence, appeal=appeal),
        submit=False,
        idempotency_key=f"ledgerdesk-stage-{dispute_id}-v{row.version}"
        + ("-appeal" if appeal else ""),
    )
    row.staged_at, row.staged_by = utcnow(), actor.username
    audit.record(
        session,
        actor,
        "dispute.evidence_staged",
        f"dispute:{dispute_id}",
        None,
        {
            "packet_version": row.version,
            "text_chars": row.text_chars,
            "missing": row.missing,
            "stage": "appeal" if appeal else "response",
        },
    )
    return row


def _approver_evidence(case: DisputeCase) -> dict[str, Any]:
    return {
        "stage": stage_of(case),
        "amount": case.amount,
        "currency": case.currency,
        "amount_text": format_money(case.amount, case.currency),
        "reason": case.reason,
        "due_by": case.due_by,
        "customer": case.customer_id,
        "win_chance": case.win_chance,
        "expected_value": case.expected_value,
        "recommendation": case.recommendation,
        "why": case.recommendation_explanation,
        "evidence_completeness": case.evidence_completeness,
    }


def _cut_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """What the approver is told about fields cut to fit Stripe's limits (nothing when none)."""
    cuts = cuts_in(evidence)
    return {"cut_to_fit": [c.describe() for c in cuts]} if cuts else {}


def request_submission(
    session: Session,
    actor: Actor,
    dispute_id: str,
    cfg: DisputeConfig | None = None,
    *,
    policy: Policy | None = None,
) -> Any:
    """Ask for approval to submit the latest packet (submit=true happens only in the executor)."""
    case = get_case(session, dispute_id)
    if case.answered:
        raise InvalidTransition(
            f"Dispute {dispute_id} is '{case.status}' or already answered: nothing to submit."
        )
    row = latest_packet(session, case.id) or prepare_packet(session, actor, dispute_id, cfg)
    stage = stage_of(case)
    what = "appeal" if stage == "appeal" else "evidence packet"
    return request_action(
        session,
        actor,
        action_type="submit_dispute_evidence",
        target_id=dispute_id,
        params={
            "dispute": dispute_id,
            "evidence": dict(row.evidence),
            "packet_version": row.version,
            "stage": stage,
        },
        reason=f"Submit {what} v{row.version} for {case.reason} dispute, with the packet PDF"
        + (f" (missing: {', '.join(row.missing)})" if row.missing else ""),
        rule_id=SUBMIT_RULE,
        evidence=_approver_evidence(case) | {"missing": row.missing} | _cut_evidence(row.evidence),
        account=case.account,
        dedupe_key=f"dispute:{dispute_id}:submit:v{row.version}"
        + (":appeal" if stage == "appeal" else ""),
        policy=policy,
    )


def request_accept(
    session: Session,
    actor: Actor,
    dispute_id: str,
    reason: str | None = None,
    *,
    policy: Policy | None = None,
) -> Any:
    """Ask for approval to accept the dispute (closing it cannot be undone)."""
    case = get_case(session, dispute_id)
    if case.answered:
        raise InvalidTransition(
            f"Dispute {dispute_id} is '{case.status}' or already answered: nothing to accept."
        )
    if case.is_appeal:
        raise InvalidTransition(
            f"Dispute {dispute_id} is in its appeal stage: the earlier decision stands unless "
            "the appeal is submitted, so there is nothing to accept."
        )
    why = reason or "; ".join(case.recommendation_explanation[-2:]) or "Accept the dispute"
    return request_action(
        session,
        actor,
        action_type="accept_dispute",
        target_id=dispute_id,
        params={"dispute": dispute_id, "amount": case.amount, "currency": case.currency},
        reason=why,
        rule_id=ACCEPT_RULE,
        evidence=_approver_evidence(case),
        account=case.account,
        dedupe_key=f"dispute:{dispute_id}:accept",
        policy=policy,
    )


def propose_efw_refund(
    session: Session,
    efw: dict[str, Any],
    *,
    account: str = "",
    cfg: DisputeConfig | None = None,
    policy: Policy | None = None,
) -> Any:
    """An actionable early fraud warning → a refund request (once per warning), or None."""
    if not efw.get("actionable"):
        return None
    charge_ref = efw.get("charge")
    charge_id = charge_ref.get("id") if isinstance(charge_ref, dict) else charge_ref
    charge = stripe_object(session, charge_id)
    if charge is None:  # older than the first load, or its event not here yet: fetch it
        raise MissingObject(
            "charge",
            str(charge_id),
            f"Charge {charge_id} of warning {efw.get('id')} is not synced yet; it is fetched "
            "from Stripe on the next sync.",
        )
    remaining = int(charge.get("amount") or 0) - int(charge.get("amount_refunded") or 0)
    if charge.get("refunded") or charge.get("disputed") or remaining <= 0:
        return None  # nothing left to refund, or the dispute is already there
    cfg = cfg or config()
    currency = str(charge.get("currency") or "usd")
    cost = DISPUTE_FEE + cfg.counter_fee
    return request_action(
        session,
        SYSTEM_ACTOR,
        action_type="refund",
        target_id=str(charge_id),
        params={
            "charge": charge_id,
            "amount": remaining,
            "currency": currency,
            "stripe_reason": "fraudulent",
        },
        reason=(
            f"Early fraud warning ({efw.get('fraud_type')}) on {charge_id}: refunding "
            f"{format_money(remaining, currency)} now avoids a likely dispute costing the amount plus "
            f"{format_money(cost, currency)} in fees."
        ),
        rule_id=EFW_RULE,
        policy_version=cfg.policy_version,
        policy=policy,
        evidence={
            "amount": remaining,
            "currency": currency,
            "dispute_fee": DISPUTE_FEE,
            "counter_fee": cfg.counter_fee,
            "fraud_type": efw.get("fraud_type"),
            "warning": efw.get("id"),
            "customer": charge.get("customer"),
        },
        account=account,
        dedupe_key=f"efw:{efw.get('id')}:refund",
    )
