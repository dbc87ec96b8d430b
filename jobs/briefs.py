"""`python -m jobs briefs [--limit N] [--json]`: the model writes the briefs people open next.

Requests waiting for approval, disputes to answer and open recovery cases get their model brief
ahead of time, so a list of cards never waits for the model. Nothing happens without a model
(OPENAI_API_KEY); every call counts against the day's budget, and the run stops when it is spent.
"""

from __future__ import annotations

import argparse

from core.adapters.llm import client_from_settings
from core.reports.briefs.ahead import subjects_ahead
from core.reports.briefs.store import AheadRun, write_ahead
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "let the model write the briefs of pending requests, open disputes and cases ahead"
LIMIT = 20  # model calls per run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--limit: at most this many model calls in this run."""
    parser.add_argument(
        "--limit", type=int, default=LIMIT, help=f"model calls at most (default {LIMIT})"
    )


def run_once(rt: Runtime, limit: int = LIMIT) -> AheadRun | None:
    """One pass; None when no model is configured."""
    llm = client_from_settings(rt.settings)
    if llm is None:
        return None
    with rt.Session() as session:
        subjects = subjects_ahead(session)
    return write_ahead(rt.Session, rt.settings, llm, subjects, limit=limit)


def _summary(done: AheadRun | None) -> str:
    if done is None:
        return "briefs: no model configured (set OPENAI_API_KEY); pages show template briefs"
    text = f"briefs: {done.written} written by the model, {done.already} already up to date"
    return text + (f"; {done.stopped}" if done.stopped else "")


def run(args: argparse.Namespace) -> Output:
    """Write what is due and say how far it got."""
    if args.limit < 1:
        return Output(
            {"error": "--limit must be 1 or more"}, "briefs: --limit must be 1 or more.", 2
        )
    done = run_once(open_runtime(), args.limit)
    data = None if done is None else {
        "written": done.written, "already": done.already, "stopped": done.stopped
    }  # fmt: skip
    return Output({"model": done is not None, **(data or {})}, _summary(done))


def scheduled(runtime: Runtime) -> str:
    """The scheduler's run every two minutes."""
    return _summary(run_once(runtime))
