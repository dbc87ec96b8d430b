"""The figures the pages read but never compute, stored by the books job and the scheduler."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session, sessionmaker

from core.books.data import local_day
from core.books.views import read_models_stale, save_read_models
from core.config import Settings
from core.models.base import utcnow


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
