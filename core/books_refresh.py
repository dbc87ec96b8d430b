"""One books refresh: reconcile payouts, book new journal entries, record drift and page figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.books_views import save_read_models
from core.config import Settings
from core.drift import take_snapshot
from core.journal import build_day_batches
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
    with Session.begin() as session:  # the Payouts & books page reads these, never computes
        save_read_models(session, datetime.now(UTC).astimezone(settings.tz).date())
    return {
        "payouts_checked": rec.checked,
        "payouts_fetched": rec.fetched,
        "payout_states": rec.states,
        "journal_batches": len(batches),
        "journal_entries": entries,
        "drift": {c.name: c.count for c in checks},
    }
