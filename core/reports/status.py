"""`python -m jobs status`: every area's section, as plain JSON-ready data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.config import Settings
from core.disputes.cases import status_counts
from core.recovery.queries import recovery_status
from core.reports.figures import headline_figures
from core.sync.health import (
    account_health,
    dead_letters,
    queue_health,
    storage_health,
    webhook_rejects,
)

StatusSection = Callable[[Session, Settings], Any]
STATUS_SECTIONS: dict[str, StatusSection] = {}


def status_section(name: str) -> Callable[[StatusSection], StatusSection]:
    """Register another area's section of `python -m jobs status`."""

    def register(fn: StatusSection) -> StatusSection:
        STATUS_SECTIONS[name] = fn
        return fn

    return register


STATUS_SECTIONS["accounts"] = lambda s, settings: account_health(s, settings)
STATUS_SECTIONS["queue"] = lambda s, settings: queue_health(s, with_processed=True)
STATUS_SECTIONS["webhook_rejects"] = lambda s, settings: webhook_rejects(s)
STATUS_SECTIONS["dead_letters"] = lambda s, settings: dead_letters(s, limit=20)
STATUS_SECTIONS["storage"] = storage_health


def _dispute_status(session: Session, settings: Settings) -> dict[str, int]:
    """Open disputes, due within 72 h, past due (owned by core/disputes/cases.py)."""
    return status_counts(session, int(datetime.now(UTC).timestamp()))


STATUS_SECTIONS["disputes"] = _dispute_status


def _recovery_status(session: Session, settings: Settings) -> dict[str, Any]:
    """Open failed-payment cases by bucket (owned by core/recovery/queries.py)."""
    return recovery_status(session)


STATUS_SECTIONS["recovery"] = _recovery_status
# MRR, MRR at risk, unmatched deposits, recovery rate: the same numbers the pages show.
STATUS_SECTIONS["figures"] = lambda s, settings: headline_figures(s, settings)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def status_report(session: Session, settings: Settings) -> dict[str, Any]:
    """Every registered section as plain JSON-ready data: {"accounts": [...], "queue": {...}}."""
    return {name: _plain(fn(session, settings)) for name, fn in STATUS_SECTIONS.items()}
