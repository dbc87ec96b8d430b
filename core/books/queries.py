"""SQL read models for drift and lifecycle: compare Stripe snapshots with CRM / entitlements.

Fields of the stored Stripe JSON are read with SQLAlchemy's JSON operators, which compile to
`json_extract` on SQLite and `#>>` on PostgreSQL, so the comparisons run in the database and
only the rows shown (or counted) come back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Select, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from core.models.books import Entitlement
from core.models.context import CrmAccount
from core.models.performance import data_customer
from core.models.sync import StripeObject

AnySelect = Select[*tuple[Any, ...]]  # a select of any columns

LIVE = ("trialing", "active", "past_due")
CANCELED = ("canceled", "unpaid", "incomplete_expired")
PAID = ("active", "trialing")
MAX_ITEMS = 5  # subscription items counted into MRR (plans with more lines are rare)
_PER_MONTH = {"day": 365 / 12, "week": 52 / 12, "year": 1 / 12}

D = StripeObject.data


def _s(*path: Any) -> ColumnElement[Any]:
    return D[path].as_string() if len(path) > 1 else D[path[0]].as_string()


def _f(*path: Any) -> ColumnElement[Any]:
    return D[path].as_float() if len(path) > 1 else D[path[0]].as_float()


def customer_ref() -> ColumnElement[Any]:
    """A snapshot's customer id, whether `customer` is an id or an expanded object."""
    return func.coalesce(_s("customer", "id"), _s("customer"))


def _item_mrr(k: int) -> ColumnElement[Any]:
    base = ("items", "data", k)
    unit = func.coalesce(
        _f(*base, "price", "unit_amount"),
        _f(*base, "price", "amount"),
        _f(*base, "plan", "unit_amount"),
        _f(*base, "plan", "amount"),
        0.0,
    )
    qty = func.coalesce(_f(*base, "quantity"), 1.0)
    interval = func.coalesce(
        _s(*base, "price", "recurring", "interval"),
        _s(*base, "price", "interval"),
        _s(*base, "plan", "interval"),
        "month",
    )
    count = func.coalesce(
        _f(*base, "price", "recurring", "interval_count"),
        _f(*base, "price", "interval_count"),
        _f(*base, "plan", "interval_count"),
        1.0,
    )
    factor = case(*((interval == k, v) for k, v in _PER_MONTH.items()), else_=1.0)
    # Most subscriptions have one item: a missing item costs one lookup, not eleven.
    value = cast(unit, Float) * qty * factor / func.nullif(count, 0.0)
    return case((_s(*base).is_(None), 0.0), else_=value)


def subscription_mrr_sql() -> ColumnElement[Any]:
    """MRR of a subscription snapshot in minor units (0 unless live), like lifecycle's."""
    total = sum((func.coalesce(_item_mrr(k), 0.0) for k in range(MAX_ITEMS)), literal(0.0))
    return case((_s("status").in_(LIVE), func.round(total)), else_=0.0)


def subscriptions() -> Any:
    """Subscription snapshots as (id, customer, status, mrr) — a subquery to join on."""
    return (
        select(
            StripeObject.id.label("id"),
            customer_ref().label("customer"),
            _s("status").label("status"),
            subscription_mrr_sql().label("mrr"),
        )
        .where(StripeObject.object_type == "subscription")
        .subquery("subs")
    )


def customers() -> Any:
    """Live (not deleted) customer snapshots as (id, email) — lower-cased email."""
    deleted = D["deleted"].as_boolean()
    return (
        select(StripeObject.id.label("id"), func.lower(_s("email")).label("email"))
        .where(StripeObject.object_type == "customer", or_(deleted.is_(None), deleted.is_(False)))
        .subquery("custs")
    )


# --- Stripe vs CRM -------------------------------------------------------------------------


def crm_missing(limit: int | None = None, offset: int = 0) -> AnySelect:
    """Customers with no CRM account by Stripe id nor by email (id, email)."""
    c = customers()
    by_id = select(CrmAccount.id).where(CrmAccount.stripe_customer_id == c.c.id)
    by_email = select(CrmAccount.id).where(c.c.email.is_not(None), CrmAccount.email == c.c.email)
    stmt = select(c.c.id, c.c.email).where(~by_id.exists(), ~by_email.exists()).order_by(c.c.id)
    return stmt.limit(limit).offset(offset) if limit is not None else stmt


def crm_mrr_mismatch(tolerance_pct: float, limit: int | None = None, offset: int = 0) -> AnySelect:
    """Customers whose Stripe MRR differs from the CRM's beyond the tolerance.

    Rows: (customer id, CRM name, Stripe MRR, CRM MRR, CRM currency). The CRM account is the
    one with the customer's Stripe id, else the one with its email.
    """
    c = customers()
    s = subscriptions()
    by_sub = (
        select(s.c.customer.label("customer"), func.sum(s.c.mrr).label("mrr"))
        .group_by(s.c.customer)
        .subquery("stripe_mrr")
    )
    a1 = CrmAccount.__table__.alias("crm_id")
    a2 = CrmAccount.__table__.alias("crm_email")
    crm_mrr = func.coalesce(a1.c.mrr, a2.c.mrr)
    stripe_mrr = func.coalesce(by_sub.c.mrr, 0.0)
    biggest = case((stripe_mrr > crm_mrr, stripe_mrr), else_=crm_mrr)
    biggest = case((biggest > 1, biggest), else_=1)
    stmt = (
        select(
            c.c.id,
            func.coalesce(a1.c.name, a2.c.name),
            stripe_mrr,
            crm_mrr,
            func.coalesce(a1.c.currency, a2.c.currency),
        )
        .select_from(c)
        .outerjoin(a1, a1.c.stripe_customer_id == c.c.id)
        .outerjoin(a2, and_(a1.c.id.is_(None), c.c.email.is_not(None), a2.c.email == c.c.email))
        .outerjoin(by_sub, by_sub.c.customer == c.c.id)
        .where(
            crm_mrr.is_not(None),
            func.abs(stripe_mrr - crm_mrr) > (tolerance_pct / 100) * biggest,
        )
        .order_by(c.c.id)
    )
    return stmt.limit(limit).offset(offset) if limit is not None else stmt


def crm_no_owner(limit: int | None = None, offset: int = 0) -> AnySelect:
    """CRM accounts with an empty owner (key, name)."""
    stmt = (
        select(
            func.coalesce(CrmAccount.stripe_customer_id, CrmAccount.natural_key), CrmAccount.name
        )
        .where(or_(CrmAccount.owner.is_(None), func.trim(CrmAccount.owner) == ""))
        .order_by(CrmAccount.id)
    )
    return stmt.limit(limit).offset(offset) if limit is not None else stmt


# --- Stripe vs entitlements ----------------------------------------------------------------


def _entitlement_statuses() -> Any:
    """Per entitlement: how many candidate subscriptions, how many not canceled, how many paid.

    The candidates are the entitlement's own subscription when Stripe has it, else the
    customer's subscriptions. Both joins are index lookups: the primary key, and the
    (object_type, data.customer) expression index.
    """
    sub = aliased(StripeObject, name="sub")
    own_sub = aliased(StripeObject, name="own_sub")
    status = sub.data["status"].as_string().label("status")
    own = (
        select(Entitlement.id.label("eid"), status)
        .select_from(Entitlement)
        .join(sub, and_(sub.id == Entitlement.subscription_id, sub.object_type == "subscription"))
    )
    has_own = select(own_sub.id).where(
        own_sub.id == Entitlement.subscription_id, own_sub.object_type == "subscription"
    )
    by_customer = (
        select(Entitlement.id.label("eid"), status)
        .select_from(Entitlement)
        .join(
            sub,
            and_(
                sub.object_type == "subscription",
                data_customer(sub.data) == Entitlement.stripe_customer_id,
            ),
        )
        .where(~has_own.exists())
    )
    both = own.union_all(by_customer).subquery("cand")
    return (
        select(
            both.c.eid,
            func.count().label("n"),
            func.sum(case((both.c.status.not_in(CANCELED), 1), else_=0)).label("alive"),
            func.sum(case((both.c.status.in_(PAID), 1), else_=0)).label("paid"),
        )
        .group_by(both.c.eid)
        .subquery("ent_status")
    )


def entitlement_mismatch(kind: str, limit: int | None = None, offset: int = 0) -> AnySelect:
    """Entitlements whose access disagrees with Stripe: kind "active" or "revoked".

    Rows: (entitlement id, who) where who is the customer id, else email, else natural key.
    """
    st = _entitlement_statuses()
    who = func.coalesce(Entitlement.stripe_customer_id, Entitlement.email, Entitlement.natural_key)
    cond = (
        and_(Entitlement.access_active.is_(True), st.c.alive == 0)
        if kind == "active"
        else and_(Entitlement.access_active.is_(False), st.c.paid > 0)
    )
    stmt = (
        select(Entitlement.id, who)
        .join(st, st.c.eid == Entitlement.id)
        .where(cond)
        .order_by(Entitlement.id)
    )
    return stmt.limit(limit).offset(offset) if limit is not None else stmt


def count_of(session: Session, stmt: AnySelect) -> int:
    """The number of rows a query returns."""
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
