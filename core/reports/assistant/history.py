"""A person's recent questions to the assistant, read back from the audit log (where every
session, tool call and answer is written), so the page needs no table of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.governance.auth import Actor
from core.models.governance import AuditEntry


def recent_sessions(session: Session, actor: Actor, limit: int = 10) -> list[dict[str, Any]]:
    """The caller's latest sessions, newest first: when, question, records cited, proposals."""
    rows = session.execute(
        select(AuditEntry.target, AuditEntry.action, AuditEntry.at, AuditEntry.after)
        .where(
            AuditEntry.actor == actor.username,
            AuditEntry.action.in_(("assistant.session", "assistant.answer")),
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit * 2)
    ).all()
    by_ref: dict[str, dict[str, Any]] = {}
    for target, action, at, after in reversed(rows):
        item = by_ref.setdefault(target, {"ref": target.split(":", 1)[-1]})
        after = after or {}
        if action == "assistant.session":
            item.update(at=at, question=str(after.get("question") or ""))
        else:
            item.update(
                records=list(after.get("records") or []),
                proposals=[p for p in after.get("proposals") or [] if p is not None],
                stopped=after.get("stopped"),
            )
    out = [i for i in by_ref.values() if "question" in i]
    out.sort(key=lambda i: i["at"] or datetime.min, reverse=True)
    return out[:limit]
