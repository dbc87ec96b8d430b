"""Queueing a message without reading it back: one INSERT per call, once per dedupe key, the
same row `enqueue_*` stores (and returns)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select

from core.adapters import outbox
from core.models.governance import OutboxMessage


def _statements(engine: Any, fn: Any) -> tuple[list[str], Any]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split()[0].upper())

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        return seen, fn()
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def test_queue_inserts_once_without_reading_back(Session: Any, engine: Any) -> None:
    with Session.begin() as s:
        s.connection()  # the transaction's BEGIN is not the queueing's
        seen, first = _statements(
            engine,
            lambda: outbox.queue_email(s, "ops@acme.io", "Dispute", "Body", "k:email", "dispute:d"),
        )
        assert (first, seen) == (True, ["INSERT"])
        seen, again = _statements(
            engine, lambda: outbox.queue_email(s, "x@y.z", "S", "B", "k:email")
        )
        assert (again, seen) == (False, ["INSERT"])
        assert outbox.queue_chat(s, "Large dispute opened.\nOwner: none.", "k:chat") is True
        assert outbox.queue_chat(s, "again", "k:chat") is False
        # The same message the read-back variant finds (and returns) for its key.
        assert outbox.enqueue_chat(s, "third", "k:chat").subject == "Large dispute opened."
    with Session() as s:
        rows = {m.dedupe_key: m for m in s.scalars(select(OutboxMessage))}
    assert set(rows) == {"k:email", "k:chat"}
    email, chat = rows["k:email"], rows["k:chat"]
    assert (email.channel, email.recipient, email.subject, email.body, email.related) == (
        "email",
        "ops@acme.io",
        "Dispute",
        "Body",
        "dispute:d",
    )
    assert (email.status, email.attempts) == ("pending", 0)
    assert (chat.channel, chat.recipient, chat.body) == (
        "chat",
        "team channel",
        "Large dispute opened.\nOwner: none.",
    )
