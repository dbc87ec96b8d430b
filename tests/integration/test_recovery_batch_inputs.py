"""A batch of invoice failures reads what their cases need (the invoices' terminal events, their
payment intents' failures, subscriptions, CRM accounts) once, and its cases come out as the
same events handled one by one, without a batch, leave them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select

from core.models.context import CrmAccount
from core.models.recovery import RecoveryCase
from core.models.sync import Event
from core.sync.handling import context_of, handlers_for
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from core.sync.snapshots import store_fetched
from tests.support.recovery import event, failed_pi, invoice

T0 = 1_780_000_000
PI_FAILED = "payment_intent.payment_failed"
load_handler_modules()
FIELDS = (
    "status",
    "closed_reason",
    "bucket",
    "raw_code",
    "payment_intent_id",
    "owner",
    "segment",
    "customer_value",
    "route",
    "high_risk",
    "missing_context",
)


def _account(p: str, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]]:
    """Events, subscription snapshots and CRM accounts for `n` failed invoices of namespace `p`:
    a CRM account by customer id (even), by e-mail (odd); a canceled subscription (every third);
    a payment delivered first (every fourth, from the second); a failed payment intent (every other)."""
    events, subs, accounts = [], [], []
    for i in range(n):
        k, cus, sub = f"{p}{i:02d}", f"cus_{p}{i:02d}", f"sub_{p}{i:02d}"
        inv = invoice(f"in_{k}", customer=cus, email=f"{k}@example.com", pi=f"pi_{k}", sub=sub)
        events.append(event("invoice.payment_failed", inv, T0 + i, event_id=f"evt_{k}f"))
        if i % 2 == 0:
            decline = "insufficient_funds" if i % 4 == 0 else "expired_card"
            pi = failed_pi(f"pi_{k}", decline=decline, charge=f"ch_{k}")
            events.append(event("payment_intent.payment_failed", pi, T0 - 5, event_id=f"evt_{k}p"))
        if i % 4 == 1:
            paid = invoice(f"in_{k}", customer=cus, status="paid", pi=f"pi_{k}", sub=sub)
            # delivered before the failure: the failure finds it stored and closes its case
            events.append(event("invoice.paid", paid, T0 - 20, event_id=f"evt_{k}d"))
        subs.append(
            {
                "id": sub,
                "object": "subscription",
                "customer": cus,
                "status": "canceled" if i % 3 == 0 else "past_due",
                "canceled_at": T0 - 50 if i % 3 == 0 else None,
            }
        )
        by_id = i % 2 == 0
        accounts.append(
            CrmAccount(
                natural_key=f"crm:{k}",
                stripe_customer_id=cus if by_id else None,
                email=None if by_id else f"{k}@example.com",
                owner=f"owner-{k}",
                segment="enterprise" if i % 3 == 1 else "smb",
                mrr=1000 * (i + 1),
                flags=["strategic"] if i % 5 == 0 else [],
            )
        )
        if i % 4 == 2:  # another account has the customer's e-mail: the one by id wins
            accounts.append(
                CrmAccount(natural_key=f"crm:{k}:mail", email=f"{k}@example.com", owner="mail")
            )
    return events, subs, accounts


def _load(Session: Any, p: str, n: int) -> None:
    events, subs, accounts = _account(p, n)
    with Session.begin() as s:
        s.add_all(accounts)
        store_fetched(s, subs, account="", fetched_at=T0)
        ingest_events(s, events, source="webhook")


def _cases(Session: Any, p: str) -> dict[str, tuple[Any, ...]]:
    with Session() as s:
        found = s.scalars(select(RecoveryCase).where(RecoveryCase.invoice_id.like(f"in_{p}%")))
        return {
            c.invoice_id.removeprefix(f"in_{p}"): tuple(
                getattr(c, f).replace(p, "") if isinstance(getattr(c, f), str) else getattr(c, f)
                for f in FIELDS
            )
            for c in found
        }


def _one_by_one(Session: Any, p: str) -> None:
    """Every event of `p` through its handlers, oldest first, outside any batch (each looks
    up what it needs alone)."""
    with Session() as s:
        rows = s.scalars(
            select(Event).where(Event.event_id.like(f"evt_{p}%")).order_by(Event.created, Event.id)
        ).all()
        s.expunge_all()
    for row in rows:
        with Session.begin() as s:
            for fn in handlers_for(row.type):
                fn(s, context_of(row))


def _reads(Session: Any, engine: Any, p: str, n: int) -> dict[str, int]:
    _load(Session, p, n)
    counted = {"crm_accounts": 0, "subscription": 0, "terminal": 0, "pi failure": 0}

    def count(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        text = " ".join(statement.split())
        values = set(map(str, params.values() if isinstance(params, dict) else params or ()))
        if not text.startswith("SELECT"):
            return
        if "FROM crm_accounts" in text:
            counted["crm_accounts"] += 1
        elif "FROM stripe_objects WHERE stripe_objects.id" in text and any(
            v.startswith("sub_") for v in values
        ):
            counted["subscription"] += 1
        elif "FROM events WHERE events.object_id" in text and "invoice.paid" in values:
            counted["terminal"] += 1
        elif "FROM events WHERE events.object_id" in text and PI_FAILED in values:
            counted["pi failure"] += 1

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        assert process_batch(Session).claimed > n
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    return counted


def test_a_batch_reads_its_cases_inputs_once_and_leaves_what_one_by_one_leaves(
    Session: Any, engine: Any
) -> None:
    small = _reads(Session, engine, "sa", 4)
    large = _reads(Session, engine, "la", 20)
    # The same reads for 4 failed invoices as for 20: one per kind of input (per 500), however
    # many cases the batch opens (the CRM accounts by customer id, then by e-mail).
    assert small == large, (small, large)
    assert large == {"crm_accounts": 2, "subscription": 1, "terminal": 1, "pi failure": 1}
    _load(Session, "ob", 20)
    _one_by_one(Session, "ob")
    batched, alone = _cases(Session, "la"), _cases(Session, "ob")
    assert len(batched) == 20 and batched == alone
    # What the batch's reads decided: the owner from the CRM (by id and by e-mail), a case closed
    # by its invoice's payment, one by its canceled subscription, the decline of the failed intent.
    assert batched["00"][:6] == (
        "lost",
        "subscription_canceled",
        batched["00"][2],
        "insufficient_funds",
        "pi_00",
        "owner-00",
    )
    assert batched["01"][0:2] == ("recovered", "paid") and batched["01"][5] == "owner-01"
    assert batched["02"][:2] == ("open", None) and batched["02"][3] == "expired_card"
    assert batched["02"][5] == "owner-02"  # by customer id, before the e-mail's account
    assert batched["04"][6:8] == ("enterprise", 5000)  # segment and mrr of its account
