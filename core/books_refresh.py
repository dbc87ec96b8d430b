"""One books refresh: reconcile payouts, book new journal entries, record drift and page figures."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.books_data import local_day
from core.books_views import read_models_stale, save_read_models
from core.config import Settings
from core.drift import take_snapshot
from core.journal import build_day_batches
from core.models.base import utcnow
from core.payouts import reconcile_payouts


def refresh_books(
    Session: sessionmaker[Session],
    settings: Settings,
    account: str | None = None,
) -> dict[str, Any]:
    """Four units of work (payouts, journal, drift, page figures); returns the figures."""
    from core.stripe_gateway import StripeGateway, make_client

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


def store_read_models(Session: sessionmaker[Session], settings: Settings) -> float:
    """Compute and store the figures the pages read but never compute (lifecycle, tax for the
    period, charges per month), as of today in the team's time zone; returns the seconds."""
    with Session.begin() as session:
        return save_read_models(session, local_day(int(time.time()), settings.tz))


def refresh_read_models(Session: sessionmaker[Session], settings: Settings) -> float | None:
    """Store the read models again when events arrived since and a refresh is due (see
    `read_models_stale`); returns the seconds it took, or None when they were current."""
    with Session() as session:
        if not read_models_stale(session, utcnow()):
            return None
    return store_read_models(Session, settings)
