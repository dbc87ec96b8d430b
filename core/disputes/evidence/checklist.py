"""Which evidence matters for each dispute reason, how complete a packet is, and how it is cut
to Stripe's limits (pure).

Follows Stripe's guidance per reason (see STRIPE.md, "Disputes"). A checklist item names one
or more Stripe evidence fields: it is satisfied when any of them is filled. Evidence "kinds"
(delivery proof, usage proof, prior payments, ...) feed the win-chance estimate.

Limits: each long text field holds at most 20,000 characters (FIELD_LIMITS, the same table as
stripe-python's `DisputeUpdateParams` docstrings; a unit test compares the two) and all text
fields together 150,000 (TEXT_LIMIT). `fit_to_limits` cuts at a line or sentence boundary,
keeps the newest lines of the access log and the beginning of other texts, and leaves a note
where it cut; `cuts_in` reads those notes back, so whoever shows the evidence can say what was
left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEXT_LIMIT = 150_000  # Stripe's budget for all text evidence fields together
FIELD_LIMIT = 20_000  # Stripe's limit for each long text field
FIELD_LIMITS: dict[str, int] = {
    "access_activity_log": FIELD_LIMIT,
    "cancellation_policy_disclosure": FIELD_LIMIT,
    "cancellation_rebuttal": FIELD_LIMIT,
    "duplicate_charge_explanation": FIELD_LIMIT,
    "product_description": FIELD_LIMIT,
    "refund_policy_disclosure": FIELD_LIMIT,
    "refund_refusal_explanation": FIELD_LIMIT,
    "uncategorized_text": FIELD_LIMIT,
}
# Logs keep their newest lines; every other text keeps its beginning.
KEEP_NEWEST = frozenset({"access_activity_log"})
# Which fields give way, in this order, when the packet as a whole is over TEXT_LIMIT.
BUDGET_ORDER = (
    "access_activity_log",
    "uncategorized_text",
    "cancellation_rebuttal",
    "refund_refusal_explanation",
    "duplicate_charge_explanation",
    "product_description",
    "refund_policy_disclosure",
    "cancellation_policy_disclosure",
)

TEXT_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_email_address", "customer_name", "customer_purchase_ip",
    "duplicate_charge_explanation", "duplicate_charge_id", "product_description",
    "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_tracking_number", "uncategorized_text",
)  # fmt: skip
FILE_FIELDS = (
    "receipt", "customer_communication", "service_documentation", "shipping_documentation",
    "cancellation_policy", "refund_policy", "duplicate_charge_documentation", "customer_signature",
    "uncategorized_file",
)  # fmt: skip


@dataclass(frozen=True)
class ChecklistItem:
    """One piece of evidence for a reason; satisfied when any of `fields` is filled."""

    key: str
    label: str
    fields: tuple[str, ...]
    required: bool = True


def _item(key: str, label: str, *fields: str, required: bool = True) -> ChecklistItem:
    return ChecklistItem(key, label, fields or (key,), required)


_COMMON = (
    _item("customer_name", "Customer name"),
    _item("customer_email_address", "Customer email address"),
    _item("product_description", "Product or service description"),
    _item("receipt", "Receipt or invoice", "receipt", "uncategorized_text", required=False),
)
_FRAUD = (
    _item("customer_purchase_ip", "Purchase IP address", required=False),
    _item("billing_address", "Billing address"),
    _item("access_activity_log", "Access or usage log after the purchase"),
    # Not a Stripe field: satisfied when the store holds earlier undisputed payments (see evaluate).
    _item("prior_payments", "Prior undisputed payments by the same customer"),
)
CHECKLISTS: dict[str, tuple[ChecklistItem, ...]] = {
    "fraudulent": _FRAUD,
    "unrecognized": _FRAUD,
    "product_not_received": (
        _item(
            "delivery_or_use",
            "Proof of delivery (tracking) or of service use (access log)",
            "shipping_tracking_number",
            "access_activity_log",
        ),
        _item("shipping_carrier", "Shipping carrier", required=False),
        _item("shipping_date", "Shipping date", "shipping_date", "service_date", required=False),
        _item("shipping_address", "Shipping address", required=False),
    ),
    "duplicate": (
        _item("duplicate_charge_id", "The other (original) charge"),
        _item("duplicate_charge_explanation", "Why the two charges are not duplicates"),
    ),
    "subscription_canceled": (
        _item(
            "cancellation_policy_disclosure",
            "Cancellation policy and how it was shown",
            "cancellation_policy_disclosure",
            "cancellation_policy",
        ),
        _item("cancellation_rebuttal", "Why the customer was not entitled to a cancellation"),
        _item(
            "access_activity_log",
            "Use of the service after the claimed cancellation",
            required=False,
        ),
    ),
    "credit_not_processed": (
        _item(
            "refund_policy_disclosure",
            "Refund policy and how it was shown",
            "refund_policy_disclosure",
            "refund_policy",
        ),
        _item("refund_refusal_explanation", "Why no refund or credit is owed"),
    ),
    "product_unacceptable": (
        _item(
            "customer_communication",
            "Communication with the customer",
            "customer_communication",
            "uncategorized_text",
        ),
        _item("refund_policy_disclosure", "Refund policy", required=False),
    ),
}
GENERAL_CHECKLIST = (
    _item("uncategorized_text", "Summary of the transaction and history"),
    _item("customer_communication", "Communication with the customer", required=False),
)


def checklist_for(reason: str) -> tuple[ChecklistItem, ...]:
    """The checklist for a dispute reason: the common items plus the reason's own."""
    return _COMMON + CHECKLISTS.get(reason, GENERAL_CHECKLIST)


def _filled(evidence: Mapping[str, Any], field: str) -> bool:
    value = evidence.get(field)
    return bool(value.strip()) if isinstance(value, str) else bool(value)


@dataclass(frozen=True)
class ChecklistResult:
    """Which items are present and which required ones are missing."""

    items: tuple[tuple[ChecklistItem, bool], ...]

    @property
    def missing_required(self) -> list[ChecklistItem]:
        """Required items with no evidence yet."""
        return [item for item, ok in self.items if item.required and not ok]

    @property
    def completeness(self) -> float:
        """Share of required items satisfied, 0.0 – 1.0."""
        required = [ok for item, ok in self.items if item.required]
        return sum(required) / len(required) if required else 1.0


def evaluate(
    reason: str, evidence: Mapping[str, Any], extra_present: frozenset[str] = frozenset()
) -> ChecklistResult:
    """Check a packet's evidence fields (plus `extra_present` keys, e.g. prior_payments)."""
    rows = []
    for item in checklist_for(reason):
        ok = item.key in extra_present or any(_filled(evidence, f) for f in item.fields)
        rows.append((item, ok))
    return ChecklistResult(tuple(rows))


def text_length(evidence: Mapping[str, Any]) -> int:
    """Characters counted against Stripe's text budget."""
    return sum(len(v) for k, v in evidence.items() if k in TEXT_FIELDS and isinstance(v, str))


FIELD_SCOPE = "in this field"
TOTAL_SCOPE = "of evidence text in all"
_NOTE = re.compile(
    r"\[… ([\d,]+) characters(?: \(([\d,]+) older lines\))? left out here: Stripe accepts at "
    r"most ([\d,]+) characters (in this field|of evidence text in all)\]"
)


@dataclass(frozen=True)
class Cut:
    """What was left out of one evidence field to stay within a Stripe limit."""

    field: str
    removed_chars: int
    removed_lines: int  # older log lines left out (0 for texts cut at their end)
    limit: int  # the limit that forced the cut: the field's, or TEXT_LIMIT
    scope: str  # FIELD_SCOPE or TOTAL_SCOPE

    def describe(self) -> str:
        """One line for the reviewer."""
        what = f"{self.removed_chars:,} characters"
        if self.removed_lines:
            what += f" ({self.removed_lines:,} older lines)"
        per = "per field" if self.scope == FIELD_SCOPE else "for all text"
        limit = f"{self.limit:,}-character limit {per}"
        return f"{self.field}: {what} left out to stay within Stripe's {limit}"


def _note(removed: int, lines: int, limit: int, scope: str) -> str:
    older = f" ({lines:,} older lines)" if lines else ""
    shown = limit if scope == FIELD_SCOPE else TEXT_LIMIT
    return (
        f"[… {removed:,} characters{older} left out here: Stripe accepts at most {shown:,} "
        f"characters {scope}]"
    )


def _boundary(text: str, at: int) -> int:
    """The last sentence or line end at or before `at` (a word end, at worst the hard cut)."""
    head = text[:at]
    floor = at // 2
    best = max(head.rfind("\n"), head.rfind(". ") + 1, head.rfind("! ") + 1, head.rfind("? ") + 1)
    if best >= floor:
        return best
    space = head.rfind(" ")
    return space if space >= floor else at


def cut_text(
    field: str, value: str, limit: int, scope: str = FIELD_SCOPE
) -> tuple[str, Cut | None]:
    """`value` cut to at most `limit` characters, note included; logs keep their newest lines."""
    if len(value) <= limit:
        return value, None
    shown = limit if scope == FIELD_SCOPE else TEXT_LIMIT  # the limit the note names
    # Reserve room for the longest note this cut could need.
    room = limit - len(_note(len(value), value.count("\n") + 1, limit, scope)) - 1
    if room <= 0:
        return "", Cut(field, len(value), 0, shown, scope)
    if field in KEEP_NEWEST:
        lines = value.split("\n")
        kept: list[str] = []
        size = 0
        for line in reversed(lines):
            if size + len(line) + 1 > room:
                break
            kept.append(line)
            size += len(line) + 1
        if kept:
            body = "\n".join(reversed(kept))
            dropped = len(lines) - len(kept)
        else:  # one enormous line: keep its end, from a word boundary
            tail = lines[-1][-room:]
            body = tail[tail.find(" ") + 1 :] if " " in tail[: room // 2] else tail
            dropped = len(lines) - 1
        removed = len(value) - len(body)
        note = _note(removed, dropped, limit, scope)
        return note + "\n" + body, Cut(field, removed, dropped, shown, scope)
    body = value[: _boundary(value, room)].rstrip()
    removed = len(value) - len(body)
    note = _note(removed, 0, limit, scope)
    return body + "\n" + note, Cut(field, removed, 0, shown, scope)


def fit_to_limits(evidence: Mapping[str, Any]) -> tuple[dict[str, Any], list[Cut]]:
    """Cap each long text field at its limit, then the packet at TEXT_LIMIT; returns
    (evidence, cuts). Identity and short fields are never cut; nothing is cut that fits."""
    limits = {f: FIELD_LIMITS[f] for f in evidence if f in FIELD_LIMITS}
    scopes = dict.fromkeys(limits, FIELD_SCOPE)

    def apply() -> tuple[dict[str, Any], list[Cut]]:
        out, cuts = dict(evidence), []
        for field, limit in limits.items():
            value = out.get(field)
            if not isinstance(value, str):
                continue
            out[field], cut = cut_text(field, value, limit, scopes[field])
            if cut is not None:
                cuts.append(cut)
                if not out[field]:
                    del out[field]
        return out, cuts

    out, cuts = apply()
    for field in BUDGET_ORDER:
        over = text_length(out) - TEXT_LIMIT
        if over <= 0:
            break
        if not isinstance(out.get(field), str):
            continue
        limits[field], scopes[field] = max(0, len(out[field]) - over), TOTAL_SCOPE
        out, cuts = apply()
    return out, cuts


def cuts_in(evidence: Mapping[str, Any]) -> list[Cut]:
    """The cuts recorded in a packet's evidence by the notes `fit_to_limits` left."""
    found = []
    for field, value in evidence.items():
        if not isinstance(value, str):
            continue
        m = _NOTE.search(value)
        if m:
            removed, lines, limit, scope = m.groups()
            found.append(
                Cut(
                    field,
                    int(removed.replace(",", "")),
                    int((lines or "0").replace(",", "")),
                    int(limit.replace(",", "")),
                    scope,
                )
            )
    return found


def over_limits(evidence: Mapping[str, Any]) -> list[str]:
    """Fields longer than Stripe accepts, and the total when it is over (empty when it fits)."""
    problems = [
        f"{f} has {len(v):,} characters (at most {FIELD_LIMITS[f]:,})"
        for f, v in evidence.items()
        if f in FIELD_LIMITS and isinstance(v, str) and len(v) > FIELD_LIMITS[f]
    ]
    if text_length(evidence) > TEXT_LIMIT:
        problems.append(f"{text_length(evidence):,} characters of text (at most {TEXT_LIMIT:,})")
    return problems


def evidence_kinds(
    evidence: Mapping[str, Any], *, prior_payments: int, tickets: int
) -> frozenset[str]:
    """The kinds of proof a packet holds, as used by the win-chance estimate."""
    kinds = set()
    if _filled(evidence, "shipping_tracking_number"):
        kinds.add("delivery_proof")
    if _filled(evidence, "access_activity_log") or _filled(evidence, "service_date"):
        kinds.add("usage_proof")
    if prior_payments > 0:
        kinds.add("prior_payments")
    if any(
        _filled(evidence, f)
        for f in ("refund_policy_disclosure", "cancellation_policy_disclosure", "refund_policy")
    ):
        kinds.add("policy_acceptance")
    if tickets > 0 or _filled(evidence, "customer_communication"):
        kinds.add("communication")
    if _filled(evidence, "customer_email_address") and (
        _filled(evidence, "billing_address") or _filled(evidence, "customer_purchase_ip")
    ):
        kinds.add("customer_details")
    if _filled(evidence, "duplicate_charge_id"):
        kinds.add("duplicate_info")
    return frozenset(kinds)
