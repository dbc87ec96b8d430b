"""`python -m jobs dunning [--json]`: queue the due steps of the policy's dunning sequences."""

from __future__ import annotations

import argparse

from core.governance.policy import load_policy
from core.recovery.rules import RecoverySettings
from core.recovery.sequences import SequenceReport, run_sequences
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "send the due steps of the policy's pre-approved dunning sequences (off unless set)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options (--json is common to every command)."""


def run_once(rt: Runtime) -> SequenceReport:
    """One pass: each due step becomes a pre-approved send_message action (once per step)."""
    policy = load_policy(rt.settings.policy_file)
    cfg = RecoverySettings.from_section(policy.section("recovery"))
    with rt.Session.begin() as session:
        return run_sequences(session, policy, cfg, tz=rt.settings.tz)


def run(args: argparse.Namespace) -> Output:
    """Queue what is due and say what waits; the executor and the outbox send it."""
    report = run_once(open_runtime())
    return Output(report.as_dict(), report.summary())


def scheduled(runtime: Runtime) -> str:
    """The scheduler's hourly run."""
    return run_once(runtime).summary()
