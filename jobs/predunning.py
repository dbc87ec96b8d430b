"""`python -m jobs predunning [--json]`: card-update drafts for cards expiring this month or next."""

from __future__ import annotations

import argparse

from core.recovery.context import recovery_settings
from core.recovery.predunning import run_predunning
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "draft card-update e-mails for cards on active subscriptions that expire soon"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options (--json is common to every command)."""


def _run(rt: Runtime) -> int:
    cfg, _version = recovery_settings(rt.settings.policy_file)
    with rt.Session.begin() as session:
        return run_predunning(session, cfg)


def run(args: argparse.Namespace) -> Output:
    """Create the drafts (each card expiry once) and print how many are new."""
    made = _run(open_runtime())
    return Output({"new_drafts": made}, f"predunning: {made} new card-update drafts")


def scheduled(runtime: Runtime) -> str:
    """The scheduler's daily run."""
    return f"predunning: {_run(runtime)} new card-update drafts"
