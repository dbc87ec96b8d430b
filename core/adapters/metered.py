"""A model that asks the day's budget before each call and books every call after it.

Wraps any client with `model` and `complete_json` (core.adapters.llm.LlmClient) for one unit of
work: `ensure_allowance` first — a spent budget raises AiBudgetSpent, an LlmUnavailable, so the
caller keeps its template exactly as when the endpoint is down — then `book(..., purpose)` with
the reply's tokens and cost, or with outcome "failed" when the endpoint failed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.adapters.ai_usage import book, ensure_allowance
from core.adapters.draft_guard import RewriteModel
from core.adapters.llm import LlmReply
from core.config import Settings
from core.errors import AiBudgetSpent, LlmUnavailable


class MeteredModel:
    """`llm` under the budget, booked as `purpose` (draft, narrative, brief) on `session`."""

    def __init__(
        self,
        llm: RewriteModel,
        session: Session,
        settings: Settings,
        purpose: str,
        *,
        actor: str | None = None,
        ref: str | None = None,
    ) -> None:
        self.model = llm.model
        self._llm, self._session, self._settings = llm, session, settings
        self._purpose, self._actor, self._ref = purpose, actor, ref

    def __repr__(self) -> str:
        return f"MeteredModel({self.model!r}, purpose={self._purpose!r})"

    def complete_json(self, system: str, user: str, schema: dict[str, Any]) -> LlmReply:
        """One call, if today's budget allows it; booked either way it ends."""
        ensure_allowance(self._session, self._settings)
        try:
            reply: LlmReply = self._llm.complete_json(system, user, schema)
        except AiBudgetSpent:
            raise
        except LlmUnavailable:
            self._book(None, "failed")
            raise
        self._book(reply, "ok")
        return reply

    def _book(self, reply: LlmReply | None, outcome: str) -> None:
        book(
            self._session,
            self._settings,
            self._purpose,
            reply=reply,
            actor=self._actor,
            ref=self._ref,
            outcome=outcome,
        )


def metered(
    llm: RewriteModel | None,
    session: Session,
    settings: Settings,
    purpose: str,
    *,
    actor: str | None = None,
    ref: str | None = None,
) -> MeteredModel | None:
    """`llm` wrapped for the budget, or None when there is no model."""
    if llm is None:
        return None
    return MeteredModel(llm, session, settings, purpose, actor=actor, ref=ref)
