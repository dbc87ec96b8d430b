"""The brief in chat and e-mail alerts: the template brief (cheap, no model), kept like any other."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.disputes.reminders import alert_brief
from core.models.disputes import DisputeCase
from core.reports.briefs.store import template_text


@alert_brief
def dispute_alert_brief(session: Session, case: DisputeCase, tz: str) -> str | None:
    """A dispute's template brief for its alerts (the case must have an id)."""
    if case.id is None:
        session.flush()
    return template_text(session, "dispute", case.id, ZoneInfo(tz))
