"""Which evidence matters for each dispute reason, and how complete a packet is (pure).

Follows Stripe's guidance per reason (see STRIPE.md, "Disputes"). A checklist item names one
or more Stripe evidence fields: it is satisfied when any of them is filled. Evidence "kinds"
(delivery proof, usage proof, prior payments, ...) feed the win-chance estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEXT_LIMIT = 150_000  # Stripe's budget for all text evidence fields together

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


def fit_to_budget(evidence: dict[str, Any], limit: int = TEXT_LIMIT) -> tuple[dict[str, Any], bool]:
    """Trim the longest free-text fields until the packet fits; returns (evidence, trimmed)."""
    out = dict(evidence)
    over = text_length(out) - limit
    trimmed = False
    # Logs and the summary are the long, expendable parts; identity fields are never trimmed.
    for field in ("access_activity_log", "uncategorized_text", "cancellation_rebuttal"):
        if over <= 0:
            break
        value = out.get(field)
        if not isinstance(value, str) or not value:
            continue
        marker = "\n[… trimmed to fit Stripe's 150,000-character limit]"
        keep = max(0, len(value) - over - len(marker))
        out[field] = value[:keep] + marker
        over = text_length(out) - limit
        trimmed = True
    return out, trimmed


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
