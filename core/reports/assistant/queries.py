"""The read-only query tools: failed payments, disputes and one record of any kind.

Every value that came from outside (a customer's name, a CRM segment or owner, a ticket subject)
is returned as a string value of a row, never as a key and never inside a sentence; amounts are
converted from minor units with the currency's exponent. E-mail addresses are shown to operators
and above only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from core.errors import InputError
from core.governance.auth import has_role
from core.models.context import CrmAccount, HelpdeskTicket
from core.models.disputes import DisputeCase, awaiting_response
from core.models.governance import ActionRequest
from core.models.recovery import RecoveryCase, RecoveryTimelineEntry
from core.models.sync import StripeObject
from core.money import to_minor
from core.reports.assistant.spec import (
    Context,
    Result,
    ToolRefused,
    iso,
    limit_of,
    money,
    period_start,
)

CLOSED_TICKETS = ("closed", "solved", "resolved", "done")
DAY = 86_400


def _contact(ctx: Context, email: str | None) -> str | None:
    return email if has_role(ctx.actor, "operator") else None


def crm_by_customer(session: Session, ids: Iterable[str | None]) -> dict[str, CrmAccount]:
    """CRM accounts keyed by Stripe customer id."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.scalars(select(CrmAccount).where(CrmAccount.stripe_customer_id.in_(wanted)))
    return {str(a.stripe_customer_id): a for a in rows}


def open_tickets(session: Session, ids: Iterable[str | None]) -> dict[str, list[HelpdeskTicket]]:
    """Open help-desk tickets keyed by Stripe customer id."""
    wanted = sorted({i for i in ids if i})
    out: dict[str, list[HelpdeskTicket]] = {}
    if not wanted:
        return out
    rows = session.scalars(
        select(HelpdeskTicket)
        .where(
            HelpdeskTicket.stripe_customer_id.in_(wanted),
            func.lower(HelpdeskTicket.status).not_in(CLOSED_TICKETS),
        )
        .order_by(HelpdeskTicket.created_at.desc())
    )
    for t in rows:
        out.setdefault(str(t.stripe_customer_id), []).append(t)
    return out


def customer_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    """Stripe customer names keyed by id (from the synced snapshots)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.execute(
        select(StripeObject.id, StripeObject.data).where(
            StripeObject.id.in_(wanted), StripeObject.object_type == "customer"
        )
    )
    return {sid: str(data.get("name") or "") for sid, data in rows if data.get("name")}


def _ticket(t: HelpdeskTicket) -> dict[str, Any]:
    return {"ticket_id": t.ticket_id, "status": t.status, "subject": t.subject}


def _account(a: CrmAccount | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "name": a.name,
        "segment": a.segment,
        "owner": a.owner,
        "mrr": money(a.mrr, a.currency or "usd"),
        "renewal_date": a.renewal_date.isoformat() if a.renewal_date else None,
    }


def find_failed_payments(ctx: Context, args: dict[str, Any]) -> Result:
    """Failed-payment cases with at least `min_failures` failed attempts in the period."""
    s = ctx.session
    start = period_start(ctx, args.get("period", "this_month"))
    failures = args.get("min_failures", 1)
    t = RecoveryTimelineEntry
    counting = select(t.case_id, func.count(distinct(t.attempt)).label("n")).where(
        t.kind == "attempt_failed"
    )
    if start is not None:
        counting = counting.where(t.occurred_at >= start)
    counted = counting.group_by(t.case_id).subquery("failures")
    stmt = (
        select(RecoveryCase, counted.c.n)
        .join(counted, counted.c.case_id == RecoveryCase.id)
        .where(counted.c.n >= failures)
        .order_by(RecoveryCase.priority.desc(), RecoveryCase.id)
    )
    status = args.get("status", "any")
    if status != "any":
        stmt = stmt.where(RecoveryCase.status == status)
    segment = (args.get("segment") or "").strip().lower()
    if segment:
        crm_segment = (
            select(func.lower(CrmAccount.segment))
            .where(CrmAccount.stripe_customer_id == RecoveryCase.customer_id)
            .limit(1)
            .scalar_subquery()
        )
        stmt = stmt.where(
            func.lower(func.coalesce(crm_segment, RecoveryCase.segment, "")) == segment
        )
    rows = s.execute(stmt.limit(limit_of(args))).all()
    crm = crm_by_customer(s, (c.customer_id for c, _ in rows))
    out, records = [], []
    for case, n in rows:
        account = crm.get(case.customer_id or "")
        out.append(
            {
                "case_id": case.id,
                "invoice_id": case.invoice_id,
                "customer_id": case.customer_id,
                "customer_name": case.customer_name,
                "customer_email": _contact(ctx, case.customer_email),
                "segment": (account.segment if account else None) or case.segment,
                "owner": (account.owner if account else None) or case.owner,
                "failed_attempts_in_period": int(n),
                "attempt_count": case.attempt_count,
                "amount_due": money(case.amount_due, case.currency),
                "status": case.status,
                "bucket": case.bucket,
                "first_failed_at": iso(case.first_failed_at, ctx),
            }
        )
        records.append({"kind": "recovery_case", "id": str(case.id), "ref": case.invoice_id})
    return Result(out, records)


def find_disputes(ctx: Context, args: dict[str, Any]) -> Result:
    """Disputes, by default those still awaiting a response, with their open tickets."""
    s = ctx.session
    stmt = select(DisputeCase).order_by(DisputeCase.due_by, DisputeCase.id)
    if args.get("status", "awaiting_response") == "awaiting_response":
        stmt = stmt.where(awaiting_response())
    days = args.get("due_within_days")
    if days is not None:
        now = int(ctx.now.timestamp())
        stmt = stmt.where(DisputeCase.due_by > 0, DisputeCase.due_by <= now + int(days) * DAY)
    currency = (args.get("currency") or "").lower()
    if args.get("min_amount") is not None:
        cur = currency or "usd"
        try:
            floor = to_minor(args["min_amount"], cur)
        except InputError as exc:  # e.g. 500.5 in a currency without decimals
            raise ToolRefused(f"Invalid min_amount: {exc}") from None
        stmt = stmt.where(func.lower(DisputeCase.currency) == cur, DisputeCase.amount > floor)
    elif currency:
        stmt = stmt.where(func.lower(DisputeCase.currency) == currency)
    cases = list(s.scalars(stmt.limit(500)))
    tickets = open_tickets(s, (c.customer_id for c in cases))
    if args.get("with_open_ticket"):
        cases = [c for c in cases if tickets.get(c.customer_id or "")]
    cases = cases[: limit_of(args)]
    names = customer_names(s, (c.customer_id for c in cases))
    out, records = [], []
    for c in cases:
        out.append(
            {
                "dispute_id": c.dispute_id,
                "charge_id": c.charge_id,
                "customer_id": c.customer_id,
                "customer_name": names.get(c.customer_id or ""),
                "amount": money(c.amount, c.currency),
                "reason": c.reason,
                "status": c.status,
                "due_by": iso(c.due_by, ctx),
                "owner": c.owner,
                "recommendation": c.recommendation,
                "open_tickets": [_ticket(t) for t in tickets.get(c.customer_id or "", [])],
            }
        )
        records.append({"kind": "dispute", "id": c.dispute_id, "ref": c.dispute_id})
        records += [
            {"kind": "ticket", "id": t.ticket_id, "ref": t.ticket_id}
            for t in tickets.get(c.customer_id or "", [])
        ]
    return Result(out, records)


def _case_row(ctx: Context, case: RecoveryCase) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "invoice_id": case.invoice_id,
        "subscription_id": case.subscription_id,
        "customer_id": case.customer_id,
        "customer_name": case.customer_name,
        "customer_email": _contact(ctx, case.customer_email),
        "amount_due": money(case.amount_due, case.currency),
        "amount_remaining": money(case.amount_remaining, case.currency),
        "status": case.status,
        "bucket": case.bucket,
        "attempt_count": case.attempt_count,
        "recommended_action": case.recommended_action,
        "rule_ids": [str(h.get("rule_id") or h.get("id") or "") for h in case.rule_hits or []],
        "first_failed_at": iso(case.first_failed_at, ctx),
        "closed_reason": case.closed_reason,
    }


def get_record(ctx: Context, args: dict[str, Any]) -> Result:
    """One record by kind and id."""
    s, kind, key = ctx.session, args["kind"], str(args["id"]).strip()
    row: dict[str, Any] | None = None
    ref = key
    if kind == "recovery_case":
        where = RecoveryCase.invoice_id == key
        if key.isdigit():
            where = RecoveryCase.id == int(key)
        case = s.scalar(select(RecoveryCase).where(where))
        if case is not None:
            row, key, ref = _case_row(ctx, case), str(case.id), case.invoice_id
            crm = crm_by_customer(s, [case.customer_id])
            row["account"] = _account(crm.get(case.customer_id or ""))
    elif kind == "dispute":
        d = s.scalar(select(DisputeCase).where(DisputeCase.dispute_id == key))
        if d is not None:
            tickets = open_tickets(s, [d.customer_id]).get(d.customer_id or "", [])
            row = {
                "dispute_id": d.dispute_id,
                "charge_id": d.charge_id,
                "customer_id": d.customer_id,
                "customer_name": customer_names(s, [d.customer_id]).get(d.customer_id or ""),
                "amount": money(d.amount, d.currency),
                "reason": d.reason,
                "status": d.status,
                "due_by": iso(d.due_by, ctx),
                "win_chance": round(d.win_chance, 2),
                "recommendation": d.recommendation,
                "rule_id": d.rule_id,
                "evidence_completeness": round(d.evidence_completeness, 2),
                "open_tickets": [_ticket(t) for t in tickets],
            }
    elif kind == "customer":
        snap = s.scalar(
            select(StripeObject.data).where(
                StripeObject.id == key, StripeObject.object_type == "customer"
            )
        )
        account = crm_by_customer(s, [key]).get(key)
        if snap is not None or account is not None:
            cases = s.scalars(select(RecoveryCase.id).where(RecoveryCase.customer_id == key))
            disputes = s.scalars(
                select(DisputeCase.dispute_id).where(DisputeCase.customer_id == key)
            )
            row = {
                "customer_id": key,
                "name": (snap or {}).get("name"),
                "email": _contact(ctx, (snap or {}).get("email")),
                "account": _account(account),
                "open_tickets": [_ticket(t) for t in open_tickets(s, [key]).get(key, [])],
                "recovery_case_ids": list(cases),
                "dispute_ids": list(disputes),
            }
    elif kind == "ticket":
        t = s.scalar(select(HelpdeskTicket).where(HelpdeskTicket.ticket_id == key))
        if t is not None:
            row = _ticket(t) | {"customer_id": t.stripe_customer_id, "tags": list(t.tags or [])}
    elif kind == "action_request" and key.isdigit():
        a = s.get(ActionRequest, int(key))
        if a is not None:
            row = _action_row(a)
    if row is None:
        raise ToolRefused(f"No {kind} with id {key!r}: check the id from an earlier result.")
    return Result([row], [{"kind": kind, "id": key, "ref": ref}])


def _action_row(a: ActionRequest) -> dict[str, Any]:
    return {
        "action_id": a.id,
        "action_type": a.action_type,
        "target_id": a.target_id,
        "status": a.status,
        "amount": money(a.amount, a.currency),
        "approvals_needed": a.required_approvals,
        "requested_by": a.requested_by,
        "reason": a.reason,
        "rule_id": a.rule_id,
    }


def find_requests(ctx: Context, args: dict[str, Any]) -> Result:
    """Action requests, newest first: by default those waiting for approval."""
    stmt = select(ActionRequest).order_by(ActionRequest.id.desc())
    status = args.get("status", "requested")
    if status != "any":
        stmt = stmt.where(ActionRequest.status == status)
    if args.get("action_type"):
        stmt = stmt.where(ActionRequest.action_type == args["action_type"])
    rows = list(ctx.session.scalars(stmt.limit(limit_of(args))))
    return Result(
        [_action_row(a) for a in rows],
        [{"kind": "action_request", "id": str(a.id), "ref": a.target_id} for a in rows],
    )
