"""Factories for dispute tests: Stripe snapshots (customer, charges, invoice) and dispute objects."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.models.sync import StripeObject

DAY = 86_400
_ids = itertools.count(1)


def _next(prefix: str) -> str:
    return f"{prefix}_t{next(_ids):06d}"


def put(session: Session, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    """Store a snapshot as the sync engine would."""
    session.merge(
        StripeObject(
            id=obj["id"],
            account="",
            object_type=obj["object"],
            source_created=created or int(obj.get("created") or 0),
            data=obj,
        )
    )
    session.flush()
    return obj


def customer(
    session: Session, name: str = "Ada Lovelace", email: str = "ada@example.com", created: int = 0
) -> dict[str, Any]:
    """A customer snapshot."""
    return put(
        session,
        {
            "id": _next("cus"),
            "object": "customer",
            "name": name,
            "email": email,
            "created": created or 1_700_000_000,
            "address": {
                "line1": "12 Analytical Row",
                "city": "London",
                "postal_code": "N1 9GU",
                "country": "GB",
            },
        },
    )


def charge(
    session: Session, cus: dict[str, Any], amount: int, created: int, **extra: Any
) -> dict[str, Any]:
    """A succeeded charge snapshot for a customer."""
    ch = {
        "id": _next("ch"),
        "object": "charge",
        "amount": amount,
        "amount_refunded": 0,
        "currency": "usd",
        "customer": cus["id"],
        "created": created,
        "status": "succeeded",
        "paid": True,
        "disputed": False,
        "refunded": False,
        "payment_intent": _next("pi"),
        "description": "Pro plan",
        "billing_details": {
            "name": cus["name"],
            "email": cus["email"],
            "address": {"line1": "12 Analytical Row", "city": "London", "country": "GB"},
        },
        "refunds": {"object": "list", "data": []},
    }
    ch.update(extra)
    return put(session, ch)


def invoice(session: Session, ch: dict[str, Any], subscription: str = "sub_t1") -> dict[str, Any]:
    """A paid invoice (current shape) for a charge."""
    return put(
        session,
        {
            "id": _next("in"),
            "object": "invoice",
            "customer": ch["customer"],
            "status": "paid",
            "number": "INV-0042",
            "created": ch["created"],
            "payments": {
                "data": [
                    {"payment": {"type": "payment_intent", "payment_intent": ch["payment_intent"]}}
                ]
            },
            "parent": {"subscription_details": {"subscription": subscription}},
            "lines": {"data": [{"description": "Pro plan (monthly)"}]},
        },
    )


def dispute(
    ch: dict[str, Any],
    *,
    reason: str = "fraudulent",
    status: str = "needs_response",
    due_by: int,
    created: int | None = None,
    submission_count: int = 0,
    bts: list[dict[str, Any]] | None = None,
    amount: int | None = None,
) -> dict[str, Any]:
    """A dispute object (not stored: handlers get it from the event)."""
    return {
        "id": _next("dp"),
        "object": "dispute",
        "amount": amount or ch["amount"],
        "currency": "usd",
        "charge": ch["id"],
        "payment_intent": ch["payment_intent"],
        "reason": reason,
        "status": status,
        "created": created or ch["created"] + DAY,
        "is_charge_refundable": False,
        "evidence_details": {
            "due_by": due_by,
            "has_evidence": False,
            "past_due": False,
            "submission_count": submission_count,
        },
        "balance_transactions": bts or [],
        "evidence": {},
        "payment_method_details": {
            "card": {"case_type": "chargeback", "network_reason_code": "10.4"},
            "type": "card",
        },
    }


def ts(*args: int) -> int:
    """Epoch seconds of a UTC date-time."""
    return int(datetime(*args, tzinfo=UTC).timestamp())


def open_appeal(server: Any, dispute_id: str, due_by: int) -> dict[str, Any]:
    """Move a sandbox dispute into its appeal stage, as Stripe does after a decision: status
    `appeal_needs_response`, a new `due_by`, `submission_count` 1. (The sandbox has no
    simulate control for reaching an appeal, so the test sets that state in-process; answering
    it then goes through the sandbox's API like any submission.)"""
    account = server.state.platform
    with server.state.lock:
        dp = account.objects[dispute_id]
        details = dict(dp["evidence_details"], due_by=due_by, submission_count=1)
        return dict(
            account.update(dispute_id, status="appeal_needs_response", evidence_details=details)
        )
