"""The executor that submits approved dispute evidence, with the packet PDF, exactly once.

    re-read the dispute ─► answered by an earlier attempt of this action? → done
                        ─► closed, answered, past due, or in another stage than approved? → superseded
    the packet PDF ─► already on the dispute, or uploaded by an earlier attempt? → reuse it
                   ─► else POST /v1/files (purpose dispute_evidence, key "<action key>-pdf")
    POST /v1/disputes/{id} ─► the approved evidence + the PDF's file id, submit=true
                              (an appeal: only evidence[appeal][card], see evidence/payload.py)

The PDF is named after the action's idempotency key, so an upload is recognised whatever
happened in between: while Stripe remembers the key a repeated upload is replayed, and once it
has forgotten (24 h) the file is found on the dispute's evidence or in the file list instead of
being uploaded again. It is drawn from the approved evidence (core/disputes/evidence/pdf.py) at
the time the action was first claimed.

It replaces governance's default executor for `submit_dispute_evidence` (core/handlers.py names
this module).
"""

from __future__ import annotations

from typing import Any

from core.disputes.cases import config, get_case
from core.disputes.evidence.packet import packet_for_evidence
from core.disputes.evidence.payload import packet_file_id, stripe_evidence
from core.disputes.evidence.pdf import render_pdf
from core.errors import InputError
from core.governance.executor import METADATA_IDEMPOTENCY, ExecutionContext, executor
from core.governance.states import ActionType
from core.models.disputes import APPEAL_OPEN, OPEN_STATUSES, is_answered

UPLOAD_MARGIN = 3600  # look for an earlier upload from an hour before the key was saved


def pdf_filename(dispute_id: str, idempotency_key: str) -> str:
    """The name of the packet PDF one action uploads (unique per action)."""
    return f"{dispute_id}-evidence-{idempotency_key}.pdf"


def _stage(status: str | None) -> str:
    return "appeal" if status == APPEAL_OPEN else "response"


def _precheck(ctx: ExecutionContext, dispute: dict[str, Any]) -> None:
    status = dispute.get("status")
    details = dispute.get("evidence_details") or {}
    if status not in OPEN_STATUSES or is_answered(status, details.get("submission_count")):
        ctx.supersede(f"Dispute {dispute['id']} is '{status}' now, no longer awaiting a response.")
    due_by = int(details.get("due_by") or 0)
    if not due_by or due_by < ctx.now.timestamp():
        ctx.supersede(f"The response deadline of dispute {dispute['id']} has passed.")
    approved = str(ctx.action.params.get("stage") or "response")
    if _stage(status) != approved:
        ctx.supersede(
            f"Dispute {dispute['id']} moved to its {'appeal' if status == APPEAL_OPEN else 'first'}"
            f" stage after this {approved} was approved: prepare and request it again."
        )


def _earlier_upload(ctx: ExecutionContext, dispute: dict[str, Any], name: str) -> str | None:
    """The packet PDF an earlier attempt of this action uploaded, if any."""
    appeal = dispute.get("status") == APPEAL_OPEN
    for file_id in packet_file_id(dispute.get("evidence") or {}, appeal=appeal):
        if ctx.gateway.retrieve("files", file_id).get("filename") == name:
            return file_id
    saved = ctx.action.key_saved_at or ctx.now
    found = ctx.gateway.find_file(name, created_gte=int(saved.timestamp()) - UPLOAD_MARGIN)
    return str(found["id"]) if found else None


def _upload_packet_pdf(
    ctx: ExecutionContext, dispute: dict[str, Any], evidence: dict[str, str]
) -> tuple[str, bool]:
    """The file id of the packet PDF, uploading it unless an earlier attempt did; (id, uploaded)."""
    name = pdf_filename(dispute["id"], ctx.idempotency_key)
    earlier = _earlier_upload(ctx, dispute, name)
    if earlier:
        return earlier, False
    case = get_case(ctx.session, dispute["id"])
    drawn_at = ctx.action.key_saved_at or ctx.now
    packet = packet_for_evidence(
        ctx.session,
        case,
        evidence,
        config(ctx.settings.policy_file),
        int(drawn_at.timestamp()),
    )
    uploaded = ctx.gateway.upload_file(
        render_pdf(packet, now=drawn_at),
        name,
        idempotency_key=f"{ctx.idempotency_key}-pdf",
        purpose="dispute_evidence",
    )
    return str(uploaded["id"]), True


@executor(ActionType.SUBMIT_DISPUTE_EVIDENCE)
def submit_dispute_evidence(ctx: ExecutionContext) -> dict[str, Any]:
    """Upload the packet PDF and submit the approved evidence (submit=true: final)."""
    dispute_id = str(ctx.action.params.get("dispute") or ctx.action.target_id)
    dispute = ctx.gateway.retrieve("disputes", dispute_id)
    status = dispute.get("status")
    details = dispute.get("evidence_details") or {}
    ours = (dispute.get("metadata") or {}).get(METADATA_IDEMPOTENCY) == ctx.idempotency_key
    if ours and is_answered(status, details.get("submission_count")):
        return {
            "summary": f"Evidence for {dispute_id} was submitted by an earlier attempt",
            "dispute": dispute_id,
            "status": status,
        }
    if not (ctx.is_retry and ctx.key_is_fresh):
        _precheck(ctx, dispute)
    evidence = dict(ctx.action.params.get("evidence") or {})
    if not evidence:
        raise InputError("There is no evidence to submit on this action.")
    appeal = str(ctx.action.params.get("stage") or "response") == "appeal"
    file_id, uploaded = _upload_packet_pdf(ctx, dispute, evidence)
    updated = ctx.gateway.update_dispute(
        dispute_id,
        evidence=stripe_evidence(evidence, appeal=appeal, file_id=file_id),
        submit=True,
        metadata=ctx.metadata,
        idempotency_key=ctx.idempotency_key,
    )
    what = "appeal" if appeal else "evidence"
    return {
        "summary": f"Submitted the {what} for {dispute_id} with the packet PDF {file_id}"
        f"{'' if uploaded else ' (uploaded by an earlier attempt)'}; it is now "
        f"{updated.get('status')}",
        "dispute": dispute_id,
        "status": updated.get("status"),
        "file": file_id,
        "stage": "appeal" if appeal else "response",
    }
