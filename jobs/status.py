"""`python -m jobs status`: sync health per account, the queue and webhook rejects."""

from __future__ import annotations

import argparse
from typing import Any

from core.reports.figures import figure_lines
from core.reports.status import STATUS_SECTIONS, status_report
from core.sync.health import AccountHealth, account_health
from jobs.output import Output
from jobs.runtime import open_runtime

HELP = "show sync health: cursor, lag, counters, queue and dead letters per account"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options (--json prints every section)."""


def run(args: argparse.Namespace) -> Output:
    """Print the status; exit 1 when an account is failing or stopped."""
    runtime = open_runtime()
    with runtime.Session() as session:
        report = status_report(session, runtime.settings)
        accounts = account_health(session, runtime.settings)
    healthy = all(a.status in ("ok", "never") for a in accounts)
    code = 0 if healthy and report["storage"]["check"] == "ok" else 1
    return Output(report, lambda: "\n".join(_lines(report, accounts)), code)


def _lines(report: dict[str, Any], accounts: list[AccountHealth]) -> list[str]:
    lines = []
    for a in accounts:
        lag = "n/a" if a.lag_seconds is None else f"{a.lag_seconds:.0f}s"
        last = a.last_success_at.strftime("%Y-%m-%d %H:%M:%S") if a.last_success_at else "never"
        lines.append(
            f"{a.label}: {a.status.upper()} last success {last} lag {lag} "
            f"events/h {a.events_last_hour} duplicates {a.duplicates} retries {a.retries} "
            f"errors {a.errors}" + (f" — {a.last_error}" if a.last_error else "")
        )
    q = report["queue"]
    lines.append(
        f"queue: pending {q['pending']} retrying {q['retrying']} dead {q['dead']} "
        f"processed {q['processed']}; webhook rejects {report['webhook_rejects'] or 'none'}"
    )
    s = report["storage"]
    last = f" — last at {s['last_at']}: {s['last_error']}" if s["errors"] else ""
    lines.append(f"storage: check {s['check']}; errors {s['errors']}{last}")
    for name in STATUS_SECTIONS:
        if name == "figures":  # money in major units, as the digest says it
            lines.append("figures: " + "; ".join(figure_lines(report[name])))
        elif name not in ("accounts", "queue", "webhook_rejects", "dead_letters", "storage"):
            lines.append(f"{name}: {_words(report[name])}")
    return lines


def _words(value: Any) -> str:
    """A section as words: {"open_cases": 2, "open_by_bucket": {"card_data": 1}} →
    "open cases 2, open by bucket (card data 1)"."""
    if isinstance(value, dict):
        return (
            ", ".join(f"{str(k).replace('_', ' ')} {_nested(v)}" for k, v in value.items())
            or "none"
        )
    if isinstance(value, list):
        return "; ".join(_words(v) for v in value) or "none"
    return str(value)


def _nested(value: Any) -> str:
    return f"({_words(value)})" if isinstance(value, dict | list) else _words(value)
