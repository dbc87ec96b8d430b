"""The stored facts behind dispute evidence, read in bulk: for a set of cases (their customers,
e-mail addresses, disputed charges and case ids), the customers' charges and invoices, the
charges' refunds, usage, tickets, shipments, the operators' evidence items and the narratives of
stored packets, a few queries for all of them.

A processing batch loads them once for all its dispute events (`load_batch_facts`, kept in the
batch under FACTS: event handlers never write any of them); `facts_for` answers one case from the
batch's facts when they cover it, else loads that case's own (the same queries, one key each), so
a case's facts are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from core.models.context import HelpdeskTicket
from core.models.disputes import EvidenceItem, EvidencePacket, ShipmentRecord, UsageRecord
from core.models.performance import data_charge, data_customer
from core.models.sync import StripeObject

# Processing batch key: the batch's Facts.
FACTS = "disputes.evidence_facts"
_CHUNK = 500  # keys per IN list


@dataclass(frozen=True)
class FactKey:
    """What one case's facts are looked up by."""

    customer_id: str | None
    email: str | None  # lower case
    charge_id: str | None
    case_id: int | None
    refunds_stored: bool  # the charge's refunds are read from the store (none embedded)
    dispute_id: str = ""


@dataclass
class Facts:
    """Stored facts for a set of keys (what was asked is kept, to tell which cases it covers)."""

    customers: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    charge_ids: set[str] = field(default_factory=set)
    refund_charges: set[str] = field(default_factory=set)
    case_ids: set[int] = field(default_factory=set)
    # Disputes without a case when the facts were read: a case created since has no evidence
    # items nor packets (processing writes neither).
    new_disputes: set[str] = field(default_factory=set)
    null_charge: bool = False  # shipments without a charge were read (a key without one)
    charges: dict[str, list[str]] = field(default_factory=dict)  # customer → charges (JSON)
    invoices: dict[str, list[str]] = field(default_factory=dict)  # customer → invoices (JSON)
    refunds: dict[str, list[str]] = field(default_factory=dict)  # charge → refunds (JSON)
    usage: list[UsageRecord] = field(default_factory=list)
    tickets: list[HelpdeskTicket] = field(default_factory=list)
    shipments: list[ShipmentRecord] = field(default_factory=list)
    manual: dict[int, list[EvidenceItem]] = field(default_factory=dict)
    narratives: dict[int, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)

    def covers(self, key: FactKey) -> bool:
        """Whether these facts include everything `key` looks up."""
        return (
            (not key.customer_id or key.customer_id in self.customers)
            and (not key.email or key.email in self.emails)
            and (key.charge_id in self.charge_ids if key.charge_id else self.null_charge)
            and (not key.refunds_stored or key.charge_id in self.refund_charges)
            and (
                key.case_id is None
                or key.case_id in self.case_ids
                or key.dispute_id in self.new_disputes
            )
        )


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    listed = sorted(values)
    for i in range(0, len(listed), _CHUNK):
        yield listed[i : i + _CHUNK]


def _by_json_key(
    session: Session, object_type: str, column: Any, keys: set[str]
) -> dict[str, list[str]]:
    """Stored objects of a type whose indexed JSON field is one of `keys`, grouped by it."""
    found: dict[str, list[str]] = {k: [] for k in keys}
    for chunk in _chunks(keys):
        rows = session.execute(
            select(column(StripeObject.data), cast(StripeObject.data, Text)).where(
                StripeObject.object_type == object_type, column(StripeObject.data).in_(chunk)
            )
        )
        for key, text in rows:
            found[key].append(text)
    return found


def _who(model: Any, customers: set[str], emails: set[str]) -> list[Any]:
    terms = []
    if customers:
        terms.append(model.stripe_customer_id.in_(sorted(customers)))
    if emails:
        terms.append(model.email.in_(sorted(emails)))
    return terms


def _detached(session: Session, rows: list[Any], detach: bool) -> list[Any]:
    """Rows read for a whole processing batch outlive each event's session state: detach them
    (their columns are loaded), so no event's rollback or expunge expires them. Read for one
    case, they stay in the caller's session like any other query's."""
    if detach:
        for row in rows:
            session.expunge(row)
    return rows


def load_facts(
    session: Session,
    keys: Iterable[FactKey],
    new_disputes: Iterable[str] = (),
    *,
    detach: bool = False,
) -> Facts:
    """The stored facts of these keys (a few queries in all); `new_disputes`: those of the
    keys' disputes that have no case yet; `detach`: for a processing batch (see _detached)."""
    keys = list(keys)
    facts = Facts(
        customers={k.customer_id for k in keys if k.customer_id},
        emails={k.email for k in keys if k.email},
        charge_ids={k.charge_id for k in keys if k.charge_id},
        refund_charges={k.charge_id for k in keys if k.charge_id and k.refunds_stored},
        case_ids={k.case_id for k in keys if k.case_id is not None},
        new_disputes=set(new_disputes),
        null_charge=any(not k.charge_id for k in keys),
    )
    if facts.customers:
        facts.charges = _by_json_key(session, "charge", data_customer, facts.customers)
        facts.invoices = _by_json_key(session, "invoice", data_customer, facts.customers)
    if facts.refund_charges:
        facts.refunds = _by_json_key(session, "refund", data_charge, facts.refund_charges)
    who = _who(UsageRecord, facts.customers, facts.emails)
    if who:
        facts.usage = _detached(
            session,
            list(
                session.scalars(
                    select(UsageRecord)
                    .where(or_(*who))
                    .order_by(UsageRecord.occurred_at, UsageRecord.id)
                )
            ),
            detach,
        )
        facts.tickets = _detached(
            session,
            list(
                session.scalars(
                    select(HelpdeskTicket)
                    .where(or_(*_who(HelpdeskTicket, facts.customers, facts.emails)))
                    .order_by(HelpdeskTicket.created_at, HelpdeskTicket.id)
                )
            ),
            detach,
        )
    ship = [*_who(ShipmentRecord, facts.customers, facts.emails)]
    if facts.charge_ids:
        ship.append(ShipmentRecord.charge_id.in_(sorted(facts.charge_ids)))
    if facts.null_charge:
        ship.append(ShipmentRecord.charge_id.is_(None))
    if ship:
        facts.shipments = _detached(
            session,
            list(
                session.scalars(
                    select(ShipmentRecord)
                    .where(or_(*ship))
                    .order_by(ShipmentRecord.shipped_at, ShipmentRecord.id)
                )
            ),
            detach,
        )
    for chunk in _chunks(facts.case_ids):
        items = session.scalars(
            select(EvidenceItem).where(EvidenceItem.case_id.in_(chunk)).order_by(EvidenceItem.id)
        )
        for item in _detached(session, list(items), detach):
            facts.manual.setdefault(item.case_id, []).append(item)
        packets = session.execute(
            select(EvidencePacket.case_id, EvidencePacket.version, EvidencePacket.narrative)
            .where(EvidencePacket.case_id.in_(chunk), EvidencePacket.narrative.is_not(None))
            .order_by(EvidencePacket.case_id, EvidencePacket.version.desc())
        )
        for case_id, version, meta in packets:
            if meta:
                facts.narratives.setdefault(case_id, []).append((int(version), dict(meta)))
    return facts


def _matches(row: Any, key: FactKey) -> bool:
    return bool(
        (key.customer_id and row.stripe_customer_id == key.customer_id)
        or (key.email and row.email == key.email)
    )


@dataclass
class CaseFacts:
    """One case's share of the facts."""

    charges: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    refunds: list[dict[str, Any]]
    usage: list[UsageRecord]
    tickets: list[HelpdeskTicket]
    shipments: list[ShipmentRecord]
    manual: list[EvidenceItem]
    narratives: list[tuple[int, dict[str, Any]]]


def case_facts(facts: Facts, key: FactKey) -> CaseFacts:
    """The facts of one key, from facts that cover it."""
    cid = key.customer_id
    return CaseFacts(
        charges=[orjson.loads(t) for t in facts.charges.get(cid, [])] if cid else [],
        invoices=[orjson.loads(t) for t in facts.invoices.get(cid, [])] if cid else [],
        refunds=[orjson.loads(t) for t in facts.refunds.get(key.charge_id or "", [])]
        if key.refunds_stored
        else [],
        usage=[u for u in facts.usage if _matches(u, key)],
        tickets=[t for t in facts.tickets if _matches(t, key)],
        shipments=[s for s in facts.shipments if s.charge_id == key.charge_id or _matches(s, key)],
        manual=list(facts.manual.get(key.case_id, [])) if key.case_id is not None else [],
        narratives=list(facts.narratives.get(key.case_id, [])) if key.case_id is not None else [],
    )


def facts_for(session: Session, key: FactKey, shared: Facts | None) -> CaseFacts:
    """One case's facts: from the batch's when they cover it, else read for it alone."""
    facts = shared if shared is not None and shared.covers(key) else load_facts(session, [key])
    return case_facts(facts, key)
