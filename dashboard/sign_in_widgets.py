"""Failed sign-ins on the audit page: recent refusals and what is locked right now."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.governance import sign_in
from core.models.base import utcnow
from dashboard.widgets import when

HOURS = 24
REASONS = {
    "wrong_password": "wrong password",
    "unknown_user": "no such user",
    "disabled": "account disabled",
    "no_password": "single sign-on only",
    "too_soon": "too soon after a failure",
    "locked": "refused: locked",
    "unknown_email": "unknown e-mail (SSO)",
}


def failed_sign_ins(sessions: sessionmaker[Session], settings: Settings) -> None:
    """The last day's refused sign-ins (user tried, source, time, reason) and current locks."""
    now = utcnow()
    with sessions() as session:
        failures = sign_in.recent_failures(session, now - timedelta(hours=HOURS))
        locks = sign_in.current_locks(session, settings, now)
    with st.expander(
        f"Failed sign-ins, last {HOURS} hours: {len(failures)}"
        + (f" · {len(locks)} locked now" if locks else ""),
        expanded=bool(locks),
        icon=":material/lock:" if locks else ":material/login:",
    ):
        for lock in locks:
            st.warning(
                f"{'Account' if lock.kind == 'account' else 'Address'} {lock.key!r} is locked "
                f"until {when(lock.until, settings.tz)} after {lock.failures} failed attempts.",
                icon=":material/lock:",
            )
        if not failures:
            st.caption("No refused sign-in in the last day.")
            return
        # A dataframe shows what was typed as plain text, never as Markdown.
        st.dataframe(
            [
                {
                    "when": when(f.at, settings.tz),
                    "user tried": f.username,
                    "source": f.source,
                    "via": f.via,
                    "reason": REASONS.get(f.reason, f.reason),
                }
                for f in failures
            ],
            hide_index=True,
            width="stretch",
        )
