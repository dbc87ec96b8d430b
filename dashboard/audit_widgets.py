"""The audit page's anchor check: the table held against the chain head anchored outside the
database, as `python -m jobs audit verify` does (a cut tail or a recomputed chain is invisible to
the hash chain alone)."""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.governance import anchors
from core.models.base import utcnow

INVESTIGATE = "keep a copy of the database and the anchor file, and investigate."


def _at(iso: str, settings: Settings) -> str:
    """The anchor's time in the team's zone: HH:MM today, with the date on other days."""
    try:
        moment = datetime.fromisoformat(iso).astimezone(settings.tz)
    except ValueError:
        return iso
    today = utcnow().astimezone(settings.tz).date()
    return f"{moment:%H:%M}" if moment.date() == today else f"{moment:%Y-%m-%d %H:%M}"


def anchor_status(sessions: sessionmaker[Session], settings: Settings) -> None:
    """One line: verified against the anchor, cut, rewritten, not anchored yet, or unreadable."""
    with sessions() as session:
        check = anchors.check_head(session, settings.audit_anchor_path)
    anchor = check.anchor
    if check.problem is not None:
        st.error(f"The audit anchor cannot be checked: {check.problem}.")
    elif anchor is None:
        st.info(
            "The audit trail is not anchored yet (its head is anchored after each scheduled "
            "job, by the daily digest and by `audit export`); until then a cut tail cannot be "
            "detected."
        )
    elif check.state == "cut":
        gone = (
            ""
            if check.head_present
            else f" (entry #{anchor.last_id}, the newest anchored, is gone)"
        )
        st.error(
            f"The audit trail was cut: the anchor recorded {anchor.count} entries at "
            f"{_at(anchor.at, settings)}, the table has {check.anchored_entries}{gone}. "
            f"Entries were deleted outside Ledgerdesk; {INVESTIGATE}"
        )
    elif check.state == "rewritten":
        st.error(
            f"An audit entry was rewritten: entry #{anchor.last_id} is not the one anchored at "
            f"{_at(anchor.at, settings)} (the chain was recomputed after an edit); {INVESTIGATE}"
        )
    else:
        newer = check.entries - check.anchored_entries
        st.success(
            f"Audit trail verified against its anchor: the {anchor.count} entries anchored at "
            f"{_at(anchor.at, settings)} are all there and unchanged"
            + (f", {newer} newer since." if newer else ".")
        )
