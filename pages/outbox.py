"""Outbox: the customer e-mails and team alerts Ledgerdesk queued, and what became of each."""

from __future__ import annotations

import streamlit as st

from core.adapters.outbox import STATUSES, list_messages
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.format import md_text, when
from dashboard.queue_widgets import export_buttons

LIMIT = 200
# Material icons (drawn from Streamlit's own font, so every browser shows them) and words.
BADGE = {
    "pending": (":material/schedule:", "pending"),
    "sending": (":material/outgoing_mail:", "sending"),
    "sent": (":material/check_circle:", "sent"),
    "held": (":material/pause_circle:", "held"),
    "failed": (":material/error:", "failed"),
    "unknown": (":material/help:", "unknown — check the mail server"),
    "superseded": (":material/block:", "superseded — no longer needed"),
}

SUBJECT_CHARS = 90  # what fits on one line of an expander label at 1400 px


def short(subject: str, limit: int = SUBJECT_CHARS) -> str:
    """A subject cut at a word boundary, with an ellipsis, when it is longer than `limit`."""
    text = " ".join(subject.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:.—-")
    return f"{cut or text[:limit]} …"


actor = require_user()
settings = get_settings()
st.title("Outbox")
st.caption(
    "Every approved customer e-mail and every team alert, sent at most once by the "
    "`outbox-deliver` job (every 30 s under the scheduler). Without SMTP_URL or "
    "SLACK_WEBHOOK_URL messages are held here instead of being sent."
)

c1, c2 = st.columns([1, 3])
status = c1.selectbox("Status", ["(all)", *STATUSES], key="outbox_status")
needle = c2.text_input(
    "Search", placeholder="recipient, subject, invoice or dispute id", key="outbox_search"
)
with get_sessionmaker()() as session:
    messages = list_messages(session, None if status == "(all)" else status, limit=LIMIT)
    session.expunge_all()
text = needle.strip().lower()
if text:
    messages = [
        m
        for m in messages
        if text in f"{m.recipient} {m.subject} {m.related or ''} {m.dedupe_key}".lower()
    ]

if not messages:
    st.info(
        "No messages match. Customer e-mails appear here once an approver approves a "
        "`send_message` request (Approvals page) and the executor has run."
    )
st.caption(f"{len(messages)} message(s), newest first (at most {LIMIT}).")
export_buttons("outbox", actor, get_sessionmaker(), settings.tz, "outbox")
for m in messages:
    icon, state = BADGE.get(m.status, ("", m.status))
    if m.status == "held" and m.last_error:
        state = m.last_error.split(":")[0]  # e.g. "held (demo)"
    with st.expander(f"{icon} " + md_text(f"#{m.id} · {state} · {short(m.subject)}")):
        st.caption(
            md_text(f"{'E-mail to' if m.channel == 'email' else 'Chat to'} {m.recipient}")
            + f" · queued {when(m.created_at, settings.tz)}"
            + (f" · sent {when(m.sent_at, settings.tz)}" if m.sent_at else "")
            + f" · attempts {m.attempts}"
            + (f" · about {md_text(m.related)}" if m.related else "")
        )
        if m.last_error:
            (st.info if m.status == "held" else st.warning)(md_text(m.last_error))
        st.text(m.body)
