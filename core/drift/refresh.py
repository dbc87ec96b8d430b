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


def refresh_books(
    Session: sessionmaker[Session],
    settings: Settings,
    account: str | None = None,
) -> dict[str, Any]:
    """Four units of work (payouts, journal, drift, page figures); returns the figures."""
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
    return {
        "payouts_checked": rec.checked,
        "payouts_fetched": rec.fetched,
        "payout_states": rec.states,
        "journal_batches": len(batches),
        "journal_entries": entries,
        "drift": {c.name: c.count for c in checks},
    }
