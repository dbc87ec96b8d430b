"""The template brief: a few plain sentences composed from the facts alone (pure, no model).

What happened, what the customer's account looks like, what the rules recommend and why, and
what is uncertain or missing. Text that came from outside (names, ticket subjects, reasons
people typed) is quoted, on one line, never read as anything but words.
"""

from __future__ import annotations

import re
from typing import Any

Facts = dict[str, Any]
_BREAKS = re.compile(r"\s+")
MAX_QUOTE = 120


def quoted(value: Any) -> str:
    """Outside text as a short quotation on one line."""
    text = _BREAKS.sub(" ", str(value or "")).strip()
    if len(text) > MAX_QUOTE:
        text = text[: MAX_QUOTE - 1].rstrip() + "…"
    return f"“{text}”"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _who(facts: Facts) -> str:
    name, cid = facts.get("customer"), facts.get("customer_id")
    if name and cid:
        return f"{quoted(name)} ({cid})"
    return quoted(name) if name else (cid or "An unknown customer")


def account_sentence(facts: Facts) -> str:
    """The customer's account: value, segment, owner, renewal, tickets, earlier trouble."""
    parts: list[str] = []
    acct = facts.get("account")
    if acct:
        bits = []
        if acct.get("segment"):
            bits.append(f"{acct['segment']} segment")
        if acct.get("mrr"):
            bits.append(f"MRR {acct['mrr']}")
        elif acct.get("arr"):
            bits.append(f"ARR {acct['arr']}")
        if acct.get("owner"):
            bits.append(f"owned by {quoted(acct['owner'])}")
        if acct.get("renewal"):
            bits.append(f"renewal {acct['renewal']}")
        if acct.get("flags"):
            bits.append("CRM flags " + ", ".join(quoted(f) for f in acct["flags"]))
        if bits:
            parts.append("Account: " + ", ".join(bits))
    tickets = facts.get("tickets")
    if tickets:
        text = f"{_plural(tickets['open'], 'open ticket')} of {tickets['total']}"
        if tickets.get("latest"):
            latest = tickets["latest"][0]
            text += f" (latest {latest['date']}: {quoted(latest['subject'])})"
        parts.append(text)
    hist = facts.get("history") or {}
    if hist.get("earlier_failed_invoices") is not None:
        trouble = [
            _plural(hist["earlier_failed_invoices"], "other failed invoice"),
            _plural(hist["disputes"], "other dispute" if facts["kind"] != "request" else "dispute"),
        ]
        if hist.get("open_disputes"):
            trouble.append(f"{hist['open_disputes']} still open")
        parts.append(", ".join(trouble) + " on record")
    return ("; ".join(parts) + ".") if parts else ""


def rules_sentence(facts: Facts) -> str:
    """What the rules recommend, and which rules say so."""
    rec = facts.get("recommended")
    out = f"The rules recommend: {rec}." if rec else "The rules make no recommendation."
    rules = [r for r in facts.get("rules") or [] if r.get("id")]
    if rules:
        because = "; ".join(
            f"{r['id']} ({r['reason']})" if r.get("reason") else r["id"] for r in rules
        )
        version = f" of policy {facts['policy_version']}" if facts.get("policy_version") else ""
        out += f" Rules{version}: {because}."
    return out


def missing_sentence(facts: Facts) -> str:
    """What is uncertain or missing."""
    missing = facts.get("missing") or []
    return ("Uncertain or missing: " + "; ".join(missing) + ".") if missing else ""


def recovery_brief(f: Facts) -> str:
    """A failed payment in a few sentences."""
    retry = f" Stripe retries next on {f['next_retry']}." if f.get("next_retry") else ""
    churn = f" Churn signals: {', '.join(f['churn_signals'])}." if f.get("churn_signals") else ""
    what = (
        f"{_who(f)} did not pay invoice {f['invoice']} ({f['amount_due']}): "
        f"{_plural(f['attempts'], 'attempt')} failed since {f['first_failed']}. "
        f"{f['why'].rstrip('.')}.{retry}{churn}"
    )
    if f.get("status") != "open":
        what += f" The case is {f['status']}."
    return _join(what, account_sentence(f), rules_sentence(f), missing_sentence(f))


def dispute_brief(f: Facts) -> str:
    """A dispute in a few sentences."""
    due = f"evidence due {f['evidence_due']}" if f.get("evidence_due") else "no response possible"
    owner = f"owner {quoted(f['owner'])}" if f.get("owner") else "no owner"
    what = (
        f"{_who(f)} disputes charge {f['charge'] or 'unknown'} for {f['amount']} "
        f"({f['reason']}, {f['kind']} {f['dispute']}): {f['status']}, {due}, {owner}. "
        f"Evidence {f['evidence_complete']} complete; estimated win chance {f['win_chance']}"
        + (f", expected value {f['expected_value']}" if f.get("expected_value") else "")
        + "."
    )
    paid = f.get("paid_before_90d")
    if paid:
        what += (
            f" In the 90 days before, the customer paid {_plural(paid['charges'], 'other charge')}"
            + (f" ({paid['total']})." if paid["charges"] else ".")
        )
    rec = rules_sentence(f)
    if f.get("why"):
        rec += " Why: " + "; ".join(str(w).rstrip(".") for w in f["why"]) + "."
    return _join(what, account_sentence(f), rec, missing_sentence(f))


def request_brief(f: Facts) -> str:
    """An approval request in a few sentences."""
    amount = f" of {f['amount']}" if f.get("amount") else ""
    who = f" for {_who(f)}" if f.get("customer") or f.get("customer_id") else ""
    what = (
        f"Request {f['request']}: {f['action']}{amount}{who} on {f['target']}, asked by "
        f"{quoted(f['requested_by'])} on {f['requested_on']} with the reason "
        f"{quoted(f['reason_given'])}; it needs {_plural(f['approvals_needed'], 'approval')}."
    )
    case = f.get("case") or {}
    if case.get("failed_payment"):
        what += (
            f" It concerns failed payment {case['failed_payment']} ({case['amount_due']} due, "
            f"{_plural(case['attempts'], 'attempt')})."
        )
    elif case.get("dispute"):
        what += f" It concerns dispute {case['dispute']} ({case['reason']})."
    if case.get("recommended"):
        what += f" The case's own recommendation: {case['recommended']}."
    return _join(what, account_sentence(f), rules_sentence(f), missing_sentence(f))


COMPOSERS = {
    "recovery_case": recovery_brief,
    "dispute": dispute_brief,
    "request": request_brief,
}


def compose(kind: str, facts: Facts) -> str:
    """The template brief for a subject kind."""
    return COMPOSERS[kind](facts)


def _join(*paragraphs: str) -> str:
    # One line each: what happened, the account, the recommendation, what is missing.
    return "\n".join(p for p in paragraphs if p)
