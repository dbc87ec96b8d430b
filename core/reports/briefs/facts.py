"""The structured facts a brief is written from: one function per subject kind.

Facts are plain JSON (strings, numbers, lists, dicts). Money and dates are already written out
the way the brief shows them ("$2,500.00", "2026-12-04"), so the guard can check that every
amount and date of a brief is one of these strings. Nothing here depends on the clock: the same
records give the same facts, and so the same inputs hash. Customer-written text (names, ticket
subjects, reasons typed by people) is kept as it is and only ever quoted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.disputes.evidence.context import _objects
from core.disputes.labels import reason_label
from core.errors import NotFound
from core.governance.audit_text import customer_names
from core.models.context import CrmAccount, HelpdeskTicket
from core.models.disputes import OPEN_STATUSES, DisputeCase
from core.models.governance import ActionRequest
from core.models.recovery import RecoveryCase
from core.money import format_money
from core.recovery.classification import RESOLVED_TICKET_STATES
from core.recovery.context import find_account
from core.recovery.explain import next_step, why_bucket
from core.sync.snapshots import get_object

Facts = dict[str, Any]
KINDS = ("recovery_case", "dispute", "request")
# Bumped when the facts or the template wording change: older briefs then count as stale.
FACTS_VERSION = "1"
LATEST_TICKETS = 3


def inputs_hash(kind: str, subject_id: str, facts: Facts, model: str | None) -> str:
    """A stable hash of what a brief is written from (and by which model, if any)."""
    raw = json.dumps(
        {"v": FACTS_VERSION, "kind": kind, "id": subject_id, "facts": facts, "model": model},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _day(value: int | datetime | date | None, tz: ZoneInfo) -> str | None:
    if value is None or value == 0:
        return None
    if isinstance(value, int):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value.astimezone(tz).date().isoformat()
    return value.isoformat()


def _account(acct: CrmAccount | None, currency: str | None) -> Facts | None:
    if acct is None:
        return None
    cur = acct.currency or currency
    return {
        "name": acct.name,
        "owner": acct.owner,
        "segment": (acct.segment or "").replace("_", " ") or None,
        "mrr": format_money(acct.mrr, cur) if acct.mrr is not None else None,
        "arr": format_money(acct.arr, cur) if acct.arr is not None else None,
        "renewal": acct.renewal_date.isoformat() if acct.renewal_date else None,
        "flags": list(acct.flags or []),
    }


def _tickets(session: Session, customer_id: str | None, email: str | None) -> Facts | None:
    who = [HelpdeskTicket.stripe_customer_id == customer_id] if customer_id else []
    if email:
        who.append(HelpdeskTicket.email == email.lower())
    if not who:
        return None
    rows = list(
        session.scalars(
            select(HelpdeskTicket)
            .where(or_(*who))
            .order_by(HelpdeskTicket.created_at.desc(), HelpdeskTicket.id.desc())
            .limit(50)
        )
    )
    if not rows:
        return None
    open_rows = [t for t in rows if (t.status or "").strip().lower() not in RESOLVED_TICKET_STATES]
    return {
        "total": len(rows),
        "open": len(open_rows),
        "latest": [
            {
                "id": t.ticket_id,
                "status": t.status,
                "date": t.created_at.date().isoformat(),
                "subject": t.subject,
            }
            for t in (open_rows or rows)[:LATEST_TICKETS]
        ],
    }


def _history(session: Session, customer_id: str | None, *, not_invoice: str = "") -> Facts:
    if not customer_id:
        return {"earlier_failed_invoices": None, "disputes": None, "open_disputes": None}
    failed = session.scalar(
        select(func.count())
        .select_from(RecoveryCase)
        .where(RecoveryCase.customer_id == customer_id, RecoveryCase.invoice_id != not_invoice)
    )
    disputes = session.execute(
        select(DisputeCase.status).where(DisputeCase.customer_id == customer_id)
    ).scalars()
    statuses = list(disputes)
    return {
        "earlier_failed_invoices": int(failed or 0),
        "disputes": len(statuses),
        "open_disputes": sum(1 for s in statuses if s in OPEN_STATUSES),
    }


def _missing(account: Facts | None, tickets: Facts | None, customer_id: str | None) -> list[str]:
    out = []
    if account is None:
        out.append("no CRM account matches this customer")
    else:
        out += [
            f"the CRM has no {label}"
            for key, label in (("owner", "owner"), ("mrr", "MRR"), ("renewal", "renewal date"))
            if not account.get(key)
        ]
    if tickets is None:
        out.append("no help-desk tickets found")
    if not customer_id:
        out.append("no Stripe customer on the payment")
    return out


def recovery_facts(session: Session, case_id: int, tz: ZoneInfo) -> Facts:
    """What a person deciding on a failed payment needs to know."""
    case = session.get(RecoveryCase, case_id)
    if case is None:
        raise NotFound(f"Recovery case #{case_id} does not exist; reload the page.")
    invoice = get_object(session, case.invoice_id) or {}
    account = _account(find_account(session, case.customer_id, case.customer_email), case.currency)
    tickets = _tickets(session, case.customer_id, case.customer_email)
    retry = _day(case.next_payment_attempt, tz)
    return {
        "kind": "failed payment",
        "case": f"#{case.id}",
        "customer": case.customer_name or case.customer_email or None,
        "customer_id": case.customer_id,
        "invoice": invoice.get("number") or case.invoice_id,
        "invoice_id": case.invoice_id,
        "status": case.status,
        "amount_due": format_money(case.amount_remaining or case.amount_due, case.currency),
        "attempts": case.attempt_count,
        "first_failed": _day(case.first_failed_at, tz),
        "next_retry": retry,
        "decline_code": case.raw_code,
        "why": why_bucket(case.bucket, case.raw_code, retry),
        "churn_signals": [s.replace("_", " ") for s in case.risk_signals or []],
        "account": account,
        "tickets": tickets,
        "history": _history(session, case.customer_id, not_invoice=case.invoice_id),
        "rules": [{"id": h["rule_id"], "reason": h["reason"]} for h in case.rule_hits or []],
        "policy_version": case.policy_version,
        "recommended": next_step(case.recommended_action),
        "route": case.route.replace("_", " "),
        "escalated": case.escalated,
        "missing": _missing(account, tickets, case.customer_id),
    }


def _paid_before(session: Session, case: DisputeCase) -> Facts | None:
    """The customer's other paid charges in the 90 days before the dispute (same currency)."""
    if not case.customer_id:
        return None
    since = case.stripe_created - 90 * 86_400
    paid = [
        c
        for c in _objects(session, "charge", customer=case.customer_id)
        if c.get("id") != case.charge_id
        and c.get("status") == "succeeded"
        and not c.get("disputed")
        and since <= int(c.get("created") or 0) <= case.stripe_created
        and str(c.get("currency") or "").lower() == case.currency.lower()
    ]
    total = sum(int(c.get("amount") or 0) - int(c.get("amount_refunded") or 0) for c in paid)
    return {"charges": len(paid), "total": format_money(total, case.currency)}


def dispute_facts(session: Session, case_id: int, tz: ZoneInfo) -> Facts:
    """What a person deciding on a dispute needs to know."""
    case = session.get(DisputeCase, case_id)
    if case is None:
        raise NotFound(f"Dispute case #{case_id} does not exist; reload the page.")
    cid = case.customer_id
    name = customer_names(session, [cid]).get(cid) if cid else None
    customer = get_object(session, case.customer_id) if case.customer_id else None
    email = (customer or {}).get("email")
    account = _account(find_account(session, case.customer_id, email), case.currency)
    tickets = _tickets(session, case.customer_id, email)
    history = _history(session, case.customer_id)
    if history["disputes"] is not None:
        history["disputes"] -= 1  # this one
        history["open_disputes"] -= int(case.status in OPEN_STATUSES)
    missing = _missing(account, tickets, case.customer_id)
    if case.evidence_completeness < 1:
        missing.append("the evidence packet is not complete")
    return {
        "kind": "appeal" if case.is_appeal else "dispute",
        "dispute": case.dispute_id,
        "customer": name,
        "customer_id": case.customer_id,
        "charge": case.charge_id,
        "status": case.status.replace("_", " "),
        "amount": format_money(case.amount, case.currency),
        "reason": reason_label(case.reason),
        "network_reason_code": case.network_reason_code,
        "evidence_due": _day(case.due_by, tz),
        "owner": case.owner,
        "evidence_complete": f"{case.evidence_completeness:.0%}",
        "win_chance": f"{case.win_chance:.0%}",
        "expected_value": format_money(case.expected_value, case.currency)
        if case.expected_value is not None
        else None,
        "recommended": case.recommendation,
        "why": list(case.recommendation_explanation or []),
        "rules": [{"id": case.rule_id, "reason": None}] if case.rule_id else [],
        "policy_version": case.policy_version,
        "account": account,
        "tickets": tickets,
        "history": history,
        "paid_before_90d": _paid_before(session, case),
        "missing": missing,
    }


def _request_customer(session: Session, action: ActionRequest) -> tuple[str | None, Facts]:
    """The customer a request concerns, and what its case says (a recovery case or dispute)."""
    target = action.target_id
    rc = session.scalar(select(RecoveryCase).where(RecoveryCase.invoice_id == target).limit(1))
    if rc is not None:
        return rc.customer_id, {
            "failed_payment": f"#{rc.id}",
            "amount_due": format_money(rc.amount_remaining or rc.amount_due, rc.currency),
            "attempts": rc.attempt_count,
            "recommended": next_step(rc.recommended_action),
        }
    dc = session.scalar(
        select(DisputeCase)
        .where(or_(DisputeCase.dispute_id == target, DisputeCase.charge_id == target))
        .limit(1)
    )
    if dc is not None:
        return dc.customer_id, {
            "dispute": dc.dispute_id,
            "reason": reason_label(dc.reason),
            "recommended": dc.recommendation,
        }
    if target.startswith("cus_"):
        return target, {}
    obj = get_object(session, target) or {}
    customer = obj.get("customer")
    return (customer if isinstance(customer, str) else None), {}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def request_facts(session: Session, action_id: int, tz: ZoneInfo) -> Facts:
    """What an approver needs to know about one request."""
    action = session.get(ActionRequest, action_id)
    if action is None:
        raise NotFound(f"Request #{action_id} does not exist; reload the page.")
    customer_id, related = _request_customer(session, action)
    customer = get_object(session, customer_id) if customer_id else None
    email = (customer or {}).get("email")
    name = customer_names(session, [customer_id]).get(customer_id) if customer_id else None
    account = _account(find_account(session, customer_id, email), action.currency)
    tickets = _tickets(session, customer_id, email)
    return {
        "kind": "request",
        "request": f"#{action.id}",
        "action": action.action_type.replace("_", " "),
        "target": action.target_id,
        "amount": format_money(action.amount, action.currency)
        if action.amount is not None
        else None,
        "requested_by": action.requested_by,
        "requested_on": _day(action.created_at, tz),
        "reason_given": action.reason,
        "approvals_needed": action.required_approvals,
        "rules": [{"id": action.rule_id, "reason": None}] if action.rule_id else [],
        "policy_version": action.policy_version,
        "customer": name,
        "customer_id": customer_id,
        "case": related,
        "account": account,
        "tickets": tickets,
        "history": _history(session, customer_id),
        "missing": _missing(account, tickets, customer_id),
    }


FACTS = {
    "recovery_case": recovery_facts,
    "dispute": dispute_facts,
    "request": request_facts,
}


def fact_strings(facts: Any) -> Iterator[str]:
    """Every leaf value of the facts as text (what a brief may quote or mention)."""
    if isinstance(facts, dict):
        for v in facts.values():
            yield from fact_strings(v)
    elif isinstance(facts, list | tuple):
        for v in facts:
            yield from fact_strings(v)
    elif facts is not None and not isinstance(facts, bool):
        text = str(facts).strip()
        if text:
            yield text
