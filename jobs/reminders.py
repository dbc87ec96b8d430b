"""`python -m jobs reminders [--json]`: send dispute deadline reminders that are due (once each)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from core.disputes.cases import config
from core.disputes.reminders import send_due_reminders
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "send dispute deadline reminders (7 d, 3 d, 24 h, 12 h before due_by), each exactly once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options (--json is common to every command)."""


def _run(runtime: Runtime) -> dict[str, Any]:
    cfg = config(runtime.settings.policy_file)
    with runtime.Session.begin() as session:
        report = send_due_reminders(
            session,
            cfg,
            int(time.time()),
            runtime.settings.team_timezone,
            runtime.settings.stripe_mode,
        )
    return report.as_dict()


def scheduled(runtime: Runtime) -> str:
    """Scheduler entry: one line of what was sent."""
    result = _run(runtime)
    return _summary(result)


def _summary(result: dict[str, Any]) -> str:
    sent = len(result["sent"])
    return f"reminders: {result['checked']} open disputes checked, {sent} reminder(s) queued"


def run(args: argparse.Namespace) -> Output:
    """Send due reminders; print a summary (or JSON)."""
    result = _run(open_runtime())
    return Output(result, _summary(result))
