"""Evidence packets: fill Stripe's evidence fields from a dispute's facts, write the narrative.

    case ─► gather() (core/disputes/evidence/context.py): customer, charge, invoice, subscription,
            90 days of charges, prior undisputed payments, refunds, usage log, shipments,
            tickets, the operator's own evidence
         ─► fill(): Stripe evidence fields + narrative from the reason's approved template
            (core/disputes/evidence/narrative.py: optional AI rephrasing of its free sentences, guarded)
         ─► Stripe's limits: each long text field at most 20,000 characters, 150,000 in all
            (cut at a line or sentence boundary, the access log keeping its newest lines, a
            note where the cut is; `Packet.cuts` says what was left out)
         ─► checklist (what is missing)

The submission request carries the latest packet as the approver saw it
(core/disputes/actions.py); the executor sends exactly that with `submit=true`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.adapters.draft_guard import RewriteModel
from core.disputes.evidence.checklist import (
    ChecklistResult,
    Cut,
    cuts_in,
    evaluate,
    evidence_kinds,
    fit_to_limits,
    text_length,
)
from core.disputes.evidence.context import DAY, PacketContext, gather
from core.disputes.evidence.narrative import (
    Narrative,
    NarrativeMeta,
    over_budget,
    render_narrative,
    rephrase,
)
from core.disputes.settings import DisputeConfig
from core.models.disputes import DisputeCase, EvidencePacket, UsageRecord
from core.money import format_money

MAX_LOG_LINES = 500
# The fields the narrative fills: a rephrasing is never cut into the packet.
NARRATIVE_FIELDS = frozenset(
    {
        "uncategorized_text",
        "duplicate_charge_explanation",
        "cancellation_rebuttal",
        "refund_refusal_explanation",
    }
)


def _date(ts: int | float | datetime | None) -> str:
    if ts is None:
        return ""
    if not isinstance(ts, datetime):
        return time.strftime("%Y-%m-%d", time.gmtime(int(ts)))  # the same day, without a datetime
    return ts.astimezone(UTC).strftime("%Y-%m-%d")


@dataclass
class Packet:
    """A built packet: the evidence fields, the checklist and how it was made."""

    dispute_id: str
    reason: str
    evidence: dict[str, str]
    checklist: ChecklistResult
    kinds: frozenset[str]
    text_chars: int
    cuts: list[Cut]
    template_id: str
    template_version: str
    inputs_hash: str
    context: PacketContext = field(repr=False)
    narrative: NarrativeMeta = field(default_factory=dict)  # template or guarded AI rephrasing
    # The full text of each field that was cut (for the PDF's appendix; never sent as text).
    uncut: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def trimmed(self) -> bool:
        """True when a field was cut to fit Stripe's limits."""
        return bool(self.cuts)

    @property
    def missing(self) -> list[str]:
        """Labels of required checklist items with no evidence."""
        return [i.label for i in self.checklist.missing_required]


def _address(addr: dict[str, Any] | None) -> str:
    if not addr:
        return ""
    parts = [addr.get(k) for k in ("line1", "line2", "postal_code", "city", "state", "country")]
    return ", ".join(str(p) for p in parts if p)


def _product_description(ctx: PacketContext) -> str:
    lines = ((ctx.invoice or {}).get("lines") or {}).get("data") or []
    names = [str(line.get("description")) for line in lines if line.get("description")]
    return "; ".join(names) or str(ctx.charge.get("description") or "") or "Subscription service"


def _after_charge(ctx: PacketContext) -> list[UsageRecord]:
    paid = datetime.fromtimestamp(int(ctx.charge.get("created") or 0), UTC)
    return [u for u in ctx.usage if u.occurred_at >= paid]


def template_vars(ctx: PacketContext, cfg: DisputeConfig) -> dict[str, Any]:
    """The values a narrative template may use (all of them always defined)."""
    case, cur = ctx.case, ctx.case.currency
    used = _after_charge(ctx)
    billing = ctx.charge.get("billing_details") or {}
    return {
        "charge_id": case.charge_id or "",
        "amount_text": format_money(case.amount, cur),
        "charge_date": _date(ctx.charge.get("created")),
        "invoice_number": (ctx.invoice or {}).get("number") or "",
        "subscription_id": ctx.subscription_id or "",
        "customer_name": ctx.customer.get("name") or billing.get("name") or "",
        "customer_email": ctx.customer.get("email") or billing.get("email") or "",
        "customer_since": _date(ctx.customer.get("created")) if ctx.customer.get("created") else "",
        "prior_payments": [
            {
                "date": _date(c.get("created")),
                "amount": format_money(c.get("amount"), c.get("currency") or cur),
                "id": c.get("id"),
            }
            for c in ctx.prior_payments
        ],
        "refunds": [
            {
                "date": _date(r.get("created")),
                "amount": format_money(r.get("amount"), r.get("currency") or cur),
                "status": r.get("status") or "",
            }
            for r in ctx.refunds
        ],
        "tickets": [
            {"date": _date(t.created_at), "status": t.status, "subject": t.subject[:200]}
            for t in ctx.tickets
        ],
        "usage_count": len(used),
        "first_use": _date(used[0].occurred_at) if used else "",
        "last_use": _date(used[-1].occurred_at) if used else "",
        "purchase_ip": _purchase_ip(ctx),
        "carrier": ctx.shipment.carrier if ctx.shipment else "",
        "tracking_number": ctx.shipment.tracking_number if ctx.shipment else "",
        "shipped_date": _date(ctx.shipment.shipped_at) if ctx.shipment else "",
        "delivered_date": _date(ctx.shipment.delivered_at)
        if ctx.shipment and ctx.shipment.delivered_at
        else "",
        "duplicate_charge_id": _duplicate_of(ctx) or "",
        "product_description": _product_description(ctx),
        "refund_policy": cfg.refund_policy_text,
        "cancellation_policy": cfg.cancellation_policy_text,
    }


def _purchase_ip(ctx: PacketContext) -> str:
    paid = int(ctx.charge.get("created") or 0)
    with_ip = [u for u in ctx.usage if u.ip_address]
    if not with_ip:
        return ""
    return min(with_ip, key=lambda u: abs(u.occurred_at.timestamp() - paid)).ip_address or ""


def _duplicate_of(ctx: PacketContext) -> str | None:
    amount, created = ctx.case.amount, int(ctx.charge.get("created") or 0)
    near = [
        c
        for c in ctx.recent_charges + ctx.prior_payments
        if c.get("id") != ctx.case.charge_id
        and c.get("amount") == amount
        and abs(int(c.get("created") or 0) - created) <= 7 * DAY
    ]
    return near[0]["id"] if near else None


def _access_log(ctx: PacketContext) -> str:
    rows = _after_charge(ctx)[-MAX_LOG_LINES:]
    return "\n".join(
        f"{u.occurred_at.strftime('%Y-%m-%d %H:%M UTC')} {u.activity}"
        + (f" from {u.ip_address}" if u.ip_address else "")
        + (f" — {u.detail[:200]}" if u.detail else "")
        for u in rows
    )


def fill(
    ctx: PacketContext,
    cfg: DisputeConfig,
    narrative: Narrative | None = None,
    text: str | None = None,
    v: dict[str, Any] | None = None,
) -> tuple[dict[str, str], str, str]:
    """Stripe evidence fields for the case; returns (evidence, template id, template version).
    `v`: the case's `template_vars`, when the caller has them already."""
    v = v if v is not None else template_vars(ctx, cfg)
    narrative = narrative or render_narrative(ctx.case.reason, v)
    text = text if text is not None else narrative.text
    billing = ctx.charge.get("billing_details") or {}
    ev: dict[str, str] = {
        "customer_name": v["customer_name"],
        "customer_email_address": v["customer_email"],
        "billing_address": _address(billing.get("address") or ctx.customer.get("address")),
        "customer_purchase_ip": v["purchase_ip"],
        "product_description": v["product_description"],
        "access_activity_log": _access_log(ctx),
        "service_date": v["first_use"],
        "uncategorized_text": text,
        "refund_policy_disclosure": cfg.refund_policy_text,
        "cancellation_policy_disclosure": cfg.cancellation_policy_text,
    }
    if ctx.shipment:
        ev |= {
            "shipping_carrier": ctx.shipment.carrier,
            "shipping_tracking_number": ctx.shipment.tracking_number,
            "shipping_date": v["shipped_date"],
            "shipping_address": ctx.shipment.shipping_address or "",
        }
    reason = ctx.case.reason
    if reason == "duplicate" and v["duplicate_charge_id"]:
        ev["duplicate_charge_id"] = v["duplicate_charge_id"]
        ev["duplicate_charge_explanation"] = text.split("\n")[0]
    if reason == "subscription_canceled":
        ev["cancellation_rebuttal"] = text.split("\n\n")[0]
    if reason == "credit_not_processed":
        ev["refund_refusal_explanation"] = text.split("\n\n")[0]
    for item in ctx.manual:  # an operator's own evidence overrides what was derived
        if item.text:
            ev[item.field] = item.text
        elif item.file_id:
            ev[item.field] = item.file_id
    evidence = {k: val for k, val in ev.items() if val}
    return evidence, narrative.template_id, narrative.template_version


def narrative_history(session: Session, case_id: int) -> list[tuple[int, NarrativeMeta]]:
    """(packet version, narrative record) of a case's stored packets, newest first."""
    rows = session.execute(
        select(EvidencePacket.version, EvidencePacket.narrative)
        .where(EvidencePacket.case_id == case_id, EvidencePacket.narrative.is_not(None))
        .order_by(EvidencePacket.version.desc())
    )
    return [(int(version), dict(meta)) for version, meta in rows if meta]


def build_packet(
    session: Session,
    case: DisputeCase,
    cfg: DisputeConfig,
    now: int,
    *,
    llm: RewriteModel | None = None,
) -> Packet:
    """Gather, fill, check and fit a packet for a case (nothing is written).

    With `llm`, the narrative's free sentences are rephrased once per inputs hash under the
    guard; without, an earlier rephrasing of the same inputs is kept, else the template is used.
    """
    ctx = gather(session, case, now)
    v = template_vars(ctx, cfg)
    narrative = render_narrative(case.reason, v)
    text, meta = rephrase(
        llm,
        narrative,
        v,
        case_key=case.dispute_id,
        reason=case.reason,
        previous=ctx.narratives,
    )
    full, template_id, version = fill(ctx, cfg, narrative, text, v)
    evidence, cuts = fit_to_limits(full)
    if meta["source"] == "ai" and any(c.field in NARRATIVE_FIELDS for c in cuts):
        # A rephrasing is never cut into the packet: the template (cut if need be) is.
        full, template_id, version = fill(ctx, cfg, narrative, narrative.text, v)
        evidence, cuts = fit_to_limits(full)
        meta = over_budget(meta)
    extra = frozenset({"prior_payments"}) if ctx.prior_payments else frozenset()
    checklist = evaluate(case.reason, evidence, extra)
    kinds = evidence_kinds(
        evidence, prior_payments=len(ctx.prior_payments), tickets=len(ctx.tickets)
    )
    content: Any = evidence
    if meta.get("inputs_hash"):
        # A model was involved: its outcome is part of what a stored version records.
        content = {"evidence": evidence, "narrative": [meta["inputs_hash"], meta["guard"]]}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return Packet(
        dispute_id=case.dispute_id,
        reason=case.reason,
        evidence=evidence,
        checklist=checklist,
        kinds=kinds,
        text_chars=text_length(evidence),
        cuts=cuts,
        template_id=template_id,
        template_version=version,
        inputs_hash=digest,
        context=ctx,
        narrative=meta,
        uncut={c.field: full[c.field] for c in cuts},
    )


def save_packet(
    session: Session, case: DisputeCase, packet: Packet, created_by: str
) -> EvidencePacket:
    """Store a packet as the case's next version (the same content is not stored twice)."""
    latest = latest_packet(session, case.id)
    if latest is not None and latest.inputs_hash == packet.inputs_hash:
        return latest
    row = EvidencePacket(
        case_id=case.id,
        version=(latest.version + 1) if latest else 1,
        evidence=packet.evidence,
        missing=packet.missing,
        text_chars=packet.text_chars,
        template_id=packet.template_id,
        template_version=packet.template_version,
        inputs_hash=packet.inputs_hash,
        model=packet.narrative.get("model") if packet.narrative.get("source") == "ai" else None,
        narrative=packet.narrative,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row


def latest_packet(
    session: Session, case_id: int, *, staged_only: bool = False
) -> EvidencePacket | None:
    """The newest stored packet of a case (optionally the newest staged one)."""
    q = select(EvidencePacket).where(EvidencePacket.case_id == case_id)
    if staged_only:
        q = q.where(EvidencePacket.staged_at.is_not(None))
    return session.scalar(q.order_by(EvidencePacket.version.desc()).limit(1))


def packet_for_evidence(
    session: Session, case: DisputeCase, evidence: dict[str, str], cfg: DisputeConfig, now: int
) -> Packet:
    """The packet for evidence as approved (e.g. an action's parameters), with today's facts
    around it: what the submitted PDF is drawn from. Nothing is rebuilt in the evidence."""
    ctx = gather(session, case, now)
    row = latest_packet(session, case.id)
    cuts = cuts_in(evidence)
    full, _, _ = fill(ctx, cfg)
    extra = frozenset({"prior_payments"}) if ctx.prior_payments else frozenset()
    return Packet(
        dispute_id=case.dispute_id,
        reason=case.reason,
        evidence=dict(evidence),
        checklist=evaluate(case.reason, evidence, extra),
        kinds=evidence_kinds(
            evidence, prior_payments=len(ctx.prior_payments), tickets=len(ctx.tickets)
        ),
        text_chars=text_length(evidence),
        cuts=cuts,
        template_id=row.template_id if row else "",
        template_version=row.template_version if row else "",
        inputs_hash=hashlib.sha256(json.dumps(evidence, sort_keys=True).encode()).hexdigest(),
        context=ctx,
        narrative=dict(row.narrative or {}) if row else {},
        uncut={c.field: full[c.field] for c in cuts if c.field in full},
    )
