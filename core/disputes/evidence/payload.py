"""What is sent to Stripe for a packet: the first response's evidence fields, or an appeal (pure).

A first response sends the packet's evidence fields, plus the packet PDF in a file field
(`uncategorized_file`, or the first file field the operator has not filled). During an appeal
(`appeal_needs_response`) Stripe takes only `evidence[appeal][card]`: `reason_for_filing` (the
packet's summary, already within its limit) and `supporting_files` (the packet PDF, which holds
every field, and the operator's own files). Other evidence cannot be changed in that stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.disputes.evidence.checklist import FILE_FIELDS

PACKET_FILE_FIELDS = ("uncategorized_file", "service_documentation", "customer_communication")


def packet_file_field(evidence: Mapping[str, Any]) -> str | None:
    """The file field that carries the packet PDF in a first response (None: all are taken)."""
    return next((f for f in PACKET_FILE_FIELDS if not evidence.get(f)), None)


def stripe_evidence(
    evidence: Mapping[str, Any], *, appeal: bool, file_id: str | None = None
) -> dict[str, Any]:
    """The `evidence` parameter of `POST /v1/disputes/{id}` for a packet."""
    if appeal:
        files = [str(evidence[f]) for f in FILE_FIELDS if evidence.get(f)]
        card: dict[str, Any] = {"reason_for_filing": str(evidence.get("uncategorized_text") or "")}
        if file_id or files:
            card["supporting_files"] = ([file_id] if file_id else []) + files
        return {"appeal": {"card": card}}
    out = dict(evidence)
    field = packet_file_field(evidence)
    if file_id and field:
        out[field] = file_id
    return out


def packet_file_id(dispute_evidence: Mapping[str, Any], *, appeal: bool) -> list[str]:
    """File ids a dispute's current evidence holds where a packet PDF would be referenced."""
    if appeal:
        card = ((dispute_evidence.get("appeal") or {}).get("card")) or {}
        return [str(f) for f in card.get("supporting_files") or [] if f]
    ids = []
    for field in PACKET_FILE_FIELDS:
        value = dispute_evidence.get(field)
        ref = value.get("id") if isinstance(value, dict) else value
        if ref:
            ids.append(str(ref))
    return ids
