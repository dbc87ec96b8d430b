"""The audit log in the finance team's words: one "what happened" sentence per entry, and search
by what happened (an action word, a customer's name, an amount) as well as by codes.

The sentence is derived from the stored entry (never stored itself, so the hash chain is
untouched); customer names come from the synced Stripe objects the entry points at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.models.governance import AuditEntry
from core.models.performance import data_customer
from core.models.sync import StripeObject
from core.money import format_money

_ID = re.compile(r"\b(?:cus|ch|in|sub|pi|dp|du|py|re)_[A-Za-z0-9]+")
_AMOUNT = re.compile(r"^[$€£¥]?\s*\d[\d,]*(?:\.\d{1,2})?$")

ACTION_WORDS = {
    "refund": "a refund",
    "customer_credit": "a customer credit",
    "cancel_subscription": "cancelling a subscription",
    "pause_access": "pausing access",
    "restore_access": "restoring access",
    "retry_invoice_payment": "a retry of an invoice payment",
    "send_message": "an e-mail to a customer",
    "create_task": "a task",
    "submit_dispute_evidence": "submitting dispute evidence",
    "accept_dispute": "accepting a dispute",
    "add_note": "a note",
    "notify_channel": "a team chat message",
}

EVENTS = {
    "action.requested": "asked for {what}",
    "action.joined": "joined the open request for {what}",
    "action.approval_recorded": "approved {what} ({approvals} of {required} approvals)",
    "action.approved": "approved {what}",
    "action.rejected": "rejected {what}",
    "action.expired": "let the request for {what} expire",
    "action.executing": "started {what}",
    "action.succeeded": "completed {what}",
    "action.failed": "saw {what} fail",
    "action.superseded": "closed the request for {what} (no longer needed)",
    "action.retry": "retried {what}",
    "action.retry_scheduled": "scheduled a retry of {what}",
    "recovery.case_opened": "opened a failed-payment case",
    "recovery.case_updated": "updated a failed-payment case",
    "recovery.draft_created": "created a draft message",
    "recovery.draft_edited": "edited a draft message",
    "recovery.send_requested": "asked to send a recovery message",
    "recovery.predunning_requested": "asked to send a card-update reminder",
    "dispute.created": "recorded a new dispute",
    "dispute.updated": "updated a dispute",
    "dispute.owner": "changed a dispute's owner",
    "dispute.evidence_added": "added dispute evidence",
    "dispute.evidence_staged": "staged dispute evidence at Stripe",
    "dispute.narrative_rephrased": "rephrased a dispute narrative",
    "journal.export": "exported journal entries",
    "journal.reexport": "exported journal entries again",
    "journal.fetched_again": "fetched a journal export again",
    "books.refreshed": "refreshed the books",
    "user.created": "created a user",
    "user.role_changed": "changed a user's role",
    "user.password_reset": "reset a user's password",
    "user.password_changed": "changed their password",
    "user.enabled": "enabled a user",
    "user.disabled": "disabled a user",
    "sign_in.failed": "failed to sign in",
    "sign_in.locked": "was locked out after failed sign-ins",
    "assistant.session": "asked the desk assistant a question",
    "assistant.tool_call": "let the desk assistant look up records",
    "assistant.answer": "got an answer from the desk assistant",
}


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {**(entry.before or {}), **(entry.after or {})}


def ids_of(entry: AuditEntry) -> list[str]:
    """The Stripe ids an entry mentions (its target first)."""
    found = _ID.findall(entry.target or "")
    for value in _fields(entry).values():
        if isinstance(value, str):
            found.extend(_ID.findall(value))
    return list(dict.fromkeys(found))


def describe(entry: AuditEntry, names: Mapping[str, str] | None = None) -> str:
    """One sentence: who did what, for which customer, for how much."""
    f = _fields(entry)
    names = names or {}
    kind = str(f.get("type") or f.get("action_type") or "")
    what = ACTION_WORDS.get(kind, kind.replace("_", " ") or "an action")
    amount = f.get("amount")
    if isinstance(amount, int) and f.get("currency"):
        what = f"{what} of {format_money(amount, str(f['currency']))}"
    customer = next((names[i] for i in ids_of(entry) if i in names), None)
    if customer:
        what = f"{what} for {customer}"
    template = EVENTS.get(entry.action)
    if template is None:
        doing = entry.action.replace(".", ": ").replace("_", " ")
        text = f"{doing} ({entry.target})"
    else:
        text = template.format(
            what=what, approvals=f.get("approvals", "?"), required=f.get("required", "?")
        )
        if not entry.action.startswith("action.") and customer:
            text = f"{text} for {customer}"
    note = f.get("note") if entry.action.startswith("action.") else None
    tail = f" — {note}" if isinstance(note, str) and note else ""
    return f"{entry.actor} {text}{tail}."


def _name(data: Mapping[str, Any]) -> str | None:
    for key in ("name", "customer_name"):
        if isinstance(data.get(key), str) and data[key]:
            return str(data[key])
    billing = data.get("billing_details")
    if isinstance(billing, Mapping) and billing.get("name"):
        return str(billing["name"])
    return None


def customer_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """Stripe id → the customer's name, for the ids the synced objects know."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(StripeObject.id, StripeObject.data).where(StripeObject.id.in_(wanted))
    ).all()
    out: dict[str, str] = {}
    owners: dict[str, str] = {}
    for object_id, data in rows:
        customer = data.get("customer") if object_id[:4] != "cus_" else None
        if isinstance(customer, str) and customer:
            owners[object_id] = customer
        elif (name := _name(data)) is not None:
            out[object_id] = name
    if owners:
        people = session.execute(
            select(StripeObject.id, StripeObject.data).where(
                StripeObject.id.in_(set(owners.values()))
            )
        ).all()
        by_id = {pid: _name(data) for pid, data in people}
        for object_id, customer in owners.items():
            name = by_id.get(customer)
            if name:
                out[object_id] = name
    return out


def _minor_units(text: str) -> list[str]:
    """'$1,751.00' / '1751' → ['175100', '1751']: how the amount may be stored."""
    if not _AMOUNT.match(text):
        return []
    try:
        value = Decimal(text.lstrip("$€£¥").strip().replace(",", ""))
    except InvalidOperation:
        return []
    forms = {str(int(value * 100))}
    if value == value.to_integral_value():
        forms.add(str(int(value)))
    return sorted(forms)


def _action_codes(text: str) -> list[str]:
    """Codes whose words match: 'refund' → refund, 'credit' → customer_credit, ..."""
    low = text.lower()
    codes = [c for c, words in ACTION_WORDS.items() if low in words or low in c.replace("_", " ")]
    codes += [e for e, words in EVENTS.items() if low in words]
    return codes


def text_clause(session: Session, text: str) -> ColumnElement[bool]:
    """Entries whose codes, details, customer names or amounts match what a person typed."""
    like = f"%{text}%"
    terms: list[ColumnElement[bool]] = [
        AuditEntry.actor.ilike(like),
        AuditEntry.action.ilike(like),
        AuditEntry.target.ilike(like),
        cast(AuditEntry.after, String).ilike(like),
        cast(AuditEntry.before, String).ilike(like),
    ]
    for code in _action_codes(text):
        terms.append(AuditEntry.action == code)
        terms.append(cast(AuditEntry.after, String).like(f'%"{code}"%'))
    for minor in _minor_units(text):
        terms.append(cast(AuditEntry.after, String).like(f"%: {minor}%"))
    if len(text) >= 3 and not _AMOUNT.match(text):
        terms.extend(_customer_terms(session, like))
    return or_(*terms)


def _customer_terms(session: Session, like: str) -> list[ColumnElement[bool]]:
    """Entries about the customers whose name matches: their id and their objects' ids."""
    customers = list(
        session.scalars(
            select(StripeObject.id)
            .where(
                StripeObject.object_type == "customer",
                StripeObject.data["name"].as_string().ilike(like),
            )
            .limit(50)
        )
    )
    if not customers:
        return []
    owned = list(
        session.scalars(
            select(StripeObject.id)
            .where(data_customer(StripeObject.data).in_(customers))
            .order_by(StripeObject.source_created.desc())
            .limit(200)
        )
    )
    ids = [*customers, *owned]
    # Action entries name their object inside `after` ("target": "ch_…"), others in `target`.
    after = cast(AuditEntry.after, String)
    return [AuditEntry.target.in_(ids), *(after.like(f'%"{i}"%') for i in ids)]
