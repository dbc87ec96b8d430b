"""Briefs kept per inputs hash: computed when first needed, never paid for twice.

brief_for()       facts → inputs hash → the stored brief for that hash, else
                  with no model, or a role the briefs are switched off for: the template;
                  with one: ensure_allowance → the model's brief (guarded) → book("brief");
                  a spent budget or a failing endpoint gives the template brief (not kept
                  under the model's hash, so the model is asked again once it is back)
brief_in_steps()  the same for pages: the model is asked between two short transactions;
                  with wait=False (lists of many cards) a brief the model has not written
                  yet shows the template, and the briefs job writes it ahead
write_ahead()     for the briefs job: the model's briefs for given subjects, a few per run
template_brief()  the template only, for jobs and alerts (no model, no settings needed)
template_text()   the same brief's text, kept in one statement (what alerts carry)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.adapters.ai_usage import book, ensure_allowance
from core.adapters.draft_guard import RewriteModel
from core.config import Settings
from core.db import insert_ignore
from core.errors import AiBudgetSpent, InputError
from core.models.ai import Brief
from core.reports.briefs.compose import compose
from core.reports.briefs.facts import FACTS, Facts, inputs_hash
from core.reports.briefs.model import ModelBrief, write


@dataclass(frozen=True)
class ShownBrief:
    """A brief as a page or an alert shows it."""

    text: str
    source: str  # template | model
    model: str | None
    guard: str
    note: str  # why a model did not write it this time, or ""
    created_at: datetime | None

    def caption(self) -> str:
        """One line under the brief: who wrote it and, when the model did not, why."""
        if self.source == "model":
            return f"Brief written by {self.model}; every figure, date and name checked against the records."
        why = self.note or self.guard.removeprefix("template").strip(" ()")
        return "Brief composed from the records" + (f" ({why})." if why else ".")


def _shown(row: Brief, note: str = "") -> ShownBrief:
    return ShownBrief(row.text, row.source, row.model, row.guard, note, row.created_at)


def _stored(session: Session, kind: str, subject_id: str, digest: str) -> Brief | None:
    return session.scalar(
        select(Brief).where(
            Brief.subject_kind == kind, Brief.subject_id == subject_id, Brief.inputs_hash == digest
        )
    )


def _keep(session: Session, row: Brief) -> Brief:
    """Insert, or take the one another viewer stored a moment earlier."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        found = _stored(session, row.subject_kind, row.subject_id, row.inputs_hash)
        assert found is not None
        return found


def _template_row(kind: str, subject_id: str, facts: Facts, text: str, guard: str) -> Brief:
    return Brief(
        subject_kind=kind,
        subject_id=subject_id,
        inputs_hash=inputs_hash(kind, subject_id, facts, None),
        text=text,
        facts=facts,
        source="template",
        model=None,
        guard=guard,
    )


def template_brief(session: Session, kind: str, subject_id: int, tz: ZoneInfo) -> ShownBrief:
    """The template brief only (cheap, no model: for jobs and alerts), stored once per inputs."""
    if kind not in FACTS:
        raise InputError(f"No briefs for {kind!r}: use one of {', '.join(FACTS)}.")
    sid = str(subject_id)
    facts = FACTS[kind](session, subject_id, tz)
    return _template(session, kind, sid, facts, compose(kind, facts))


def template_text(session: Session, kind: str, subject_id: int, tz: ZoneInfo) -> str:
    """The text `template_brief` gives, stored the same way, in one statement when it is new
    (INSERT ... ON CONFLICT DO NOTHING: no savepoint, no read back); for alerts."""
    if kind not in FACTS:
        raise InputError(f"No briefs for {kind!r}: use one of {', '.join(FACTS)}.")
    sid = str(subject_id)
    facts = FACTS[kind](session, subject_id, tz)
    text = compose(kind, facts)
    digest = inputs_hash(kind, sid, facts, None)
    row = {
        "subject_kind": kind,
        "subject_id": sid,
        "inputs_hash": digest,
        "text": text,
        "facts": facts,
        "source": "template",
        "model": None,
        "guard": "template",
    }
    if insert_ignore(session, _BRIEFS, [row], _BRIEF_KEY):
        return text
    found = _stored(session, kind, sid, digest)  # kept before: its text stands
    assert found is not None
    return found.text


_BRIEFS = cast(Table, Brief.__table__)
_BRIEF_KEY = ("subject_kind", "subject_id", "inputs_hash")


def _template(
    session: Session, kind: str, sid: str, facts: Facts, text: str, note: str = ""
) -> ShownBrief:
    found = _stored(session, kind, sid, inputs_hash(kind, sid, facts, None))
    row = found or _keep(session, _template_row(kind, sid, facts, text, "template"))
    return _shown(row, note)


@dataclass(frozen=True)
class _Plan:
    """What phase one found: the facts, the template, and whether the model is to be asked."""

    kind: str
    sid: str
    facts: Facts
    text: str
    digest: str | None  # the model's inputs hash when the model is to be asked
    shown: ShownBrief | None  # the answer when no call is needed
    note: str = ""


def _plan(
    session: Session,
    settings: Settings,
    kind: str,
    subject_id: int,
    llm: RewriteModel | None,
    role: str | None,
) -> _Plan:
    if kind not in FACTS:
        raise InputError(f"No briefs for {kind!r}: use one of {', '.join(FACTS)}.")
    sid = str(subject_id)
    facts = FACTS[kind](session, subject_id, settings.tz)
    text = compose(kind, facts)
    note = ""
    if llm is not None and role is not None and role not in settings.ai.brief_roles:
        note, llm = f"model briefs are off for the {role} role", None
    if llm is not None:
        digest = inputs_hash(kind, sid, facts, llm.model)
        found = _stored(session, kind, sid, digest)
        if found is not None:
            return _Plan(kind, sid, facts, text, None, _shown(found))
        try:
            ensure_allowance(session, settings)
        except AiBudgetSpent:
            note = "today's model budget is spent"
        else:
            return _Plan(kind, sid, facts, text, digest, None)
    return _Plan(kind, sid, facts, text, None, _template(session, kind, sid, facts, text, note))


def _finish(
    session: Session, settings: Settings, plan: _Plan, made: ModelBrief, actor: str | None
) -> ShownBrief:
    """Book the call; keep the model's brief (or the rejection) under the model's hash."""
    ref = f"{plan.kind}:{plan.sid}"
    if made.reply is None:  # the endpoint failed: nothing to keep, ask again next time
        book(session, settings, "brief", actor=actor, ref=ref, outcome="failed")
        note = made.verdict.removeprefix("template (").rstrip(")")
        return _template(session, plan.kind, plan.sid, plan.facts, plan.text, note)
    outcome = "ok" if made.text else "rejected"
    book(session, settings, "brief", reply=made.reply, actor=actor, ref=ref, outcome=outcome)
    assert plan.digest is not None
    row = _model_row(plan.kind, plan.sid, plan.facts, plan.digest, plan.text, made)
    return _shown(_keep(session, row))


def brief_for(
    session: Session,
    settings: Settings,
    kind: str,
    subject_id: int,
    *,
    llm: RewriteModel | None = None,
    role: str | None = None,
    actor: str | None = None,
) -> ShownBrief:
    """The brief for a recovery case, dispute case or request (by its row id), in one session.

    The model writes it only when `llm` is given and `role` is among AI_BRIEF_ROLES; otherwise,
    and whenever the model cannot or may not be used, the template brief is shown.
    """
    plan = _plan(session, settings, kind, subject_id, llm, role)
    if plan.shown is not None or llm is None:
        assert plan.shown is not None
        return plan.shown
    return _finish(session, settings, plan, write(llm, kind, plan.facts, plan.text), actor)


def brief_in_steps(
    Session: sessionmaker[Session],
    settings: Settings,
    kind: str,
    subject_id: int,
    *,
    llm: RewriteModel | None = None,
    role: str | None = None,
    actor: str | None = None,
    wait: bool = True,
) -> ShownBrief:
    """`brief_for` for pages: the model is asked between two short transactions, never inside
    one, so a slow endpoint holds no database lock. `wait=False` never asks: a brief the model
    has not written yet shows the template (the briefs job writes it ahead)."""
    with Session.begin() as session:
        plan = _plan(session, settings, kind, subject_id, llm, role)
        if plan.shown is not None or llm is None:
            assert plan.shown is not None
            return plan.shown
        if not wait:
            return _template(
                session, kind, plan.sid, plan.facts, plan.text, "the model's brief is on its way"
            )
    made = write(llm, kind, plan.facts, plan.text)
    with Session.begin() as session:
        return _finish(session, settings, plan, made, actor)


@dataclass(frozen=True)
class AheadRun:
    """What one run of the briefs job did."""

    written: int  # model calls made (a rejected brief counts: it was paid for)
    already: int  # subjects whose brief for today's facts was written before
    stopped: str  # why the run stopped early, or ""


def write_ahead(
    Session: sessionmaker[Session],
    settings: Settings,
    llm: RewriteModel,
    subjects: Iterable[tuple[str, int]],
    *,
    limit: int,
    actor: str = "briefs job",
) -> AheadRun:
    """The model's briefs for `subjects` (most urgent first), at most `limit` calls, stopping
    when the day's budget is spent; each call between two short transactions."""
    written = already = 0
    for kind, subject_id in subjects:
        if written >= limit:
            return AheadRun(written, already, f"stopped after {limit} briefs; the rest next run")
        with Session.begin() as session:
            plan = _plan(session, settings, kind, subject_id, llm, None)
        if plan.shown is not None:
            if plan.shown.note:  # the budget is spent: every further subject would be too
                return AheadRun(written, already, plan.shown.note)
            already += 1
            continue
        made = write(llm, kind, plan.facts, plan.text)
        written += 1
        with Session.begin() as session:
            _finish(session, settings, plan, made, actor)
    return AheadRun(written, already, "")


def _model_row(
    kind: str, sid: str, facts: Facts, digest: str, template: str, made: ModelBrief
) -> Brief:
    reply = made.reply
    assert reply is not None
    return Brief(
        subject_kind=kind,
        subject_id=sid,
        inputs_hash=digest,
        text=made.text or template,
        facts=facts,
        source="model" if made.text else "template",
        model=reply.model,
        guard=made.verdict,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        cost_micro_usd=reply.cost_micro_usd,
    )
