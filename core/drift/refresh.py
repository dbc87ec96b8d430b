"""One books refresh: reconcile payouts, book new journal entries, record drift and page figures.

It lives with drift because drift is the domain that reads the books: the run does the books'
units of work first, then takes the drift snapshot they feed, then stores the page figures.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.books.journal_build import build_day_batches
from core.books.payouts import reconcile_payouts
from core.books.read_models import store_read_models
from core.config import Settings
from core.drift.checks import take_snapshot
from core.governance.audit import record
from core.governance.auth import SYSTEM_ACTOR, Actor, require_role


def refresh_books(
    Session: sessionmaker[Session],
    settings: Settings,
    account: str | None = None,
    *,
    actor: Actor = SYSTEM_ACTOR,
) -> dict[str, Any]:
    """Four units of work (payouts, journal, drift, page figures); returns the figures.
    A person needs the operator role or above (a viewer only reads); each run is audited."""
    if not actor.is_system:  # the jobs and the command line run as the system
        require_role(actor, "operator", "approver", "admin")
    client = make_client(settings) if settings.stripe_api_key else None

    def gateway_for(acct: str) -> StripeGateway:
        return StripeGateway(client, acct or None)  # type: ignore[arg-type]

    with Session.begin() as session:
        rec = reconcile_payouts(session, gateway_for if client else None, account)
    with Session.begin() as session:
        batches = build_day_batches(session, settings, account=account)
        entries = sum(b.entry_count for b in batches)
    with Session.begin() as session:
        checks = take_snapshot(session, settings)
    store_read_models(Session, settings)
    if not actor.is_system:
        with Session.begin() as session:
            record(session, actor, "books.refreshed", "books", None, {"account": account})
    return {
        "payouts_checked": rec.checked,
        "payouts_fetched": rec.fetched,
        "payout_states": rec.states,
        "journal_batches": len(batches),
        "journal_entries": entries,
        "drift": {c.name: c.count for c in checks},
    }
