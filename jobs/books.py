"""`python -m jobs books [--account acct_...] [--json]`: refresh payouts, journal and drift.

Reconciles every stored payout (reading a completed payout's balance transactions from Stripe
once), (re)builds the unexported daily journal batches and stores today's drift counts.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.books.read_models import refresh_read_models
from core.drift.refresh import refresh_books
from jobs.output import Output
from jobs.runtime import Runtime, open_runtime

HELP = "reconcile payouts, rebuild journal batches and record today's drift counts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Which account and the output format."""
    parser.add_argument("--account", help="only this account (acct_... or 'platform')")
    parser.add_argument(
        "--read-models",
        action="store_true",
        help="only recompute the pages' lifecycle, tax and charge figures, and only when events "
        "arrived since they were computed (what the scheduler checks every minute)",
    )


def refresh(runtime: Runtime, account: str | None = None) -> dict[str, Any]:
    """One books refresh; returns the figures."""
    wanted = None if account is None else ("" if account == "platform" else account)
    return refresh_books(runtime.Session, runtime.settings, wanted)


def _line(f: dict[str, Any]) -> str:
    drift = sum(f["drift"].values())
    return (
        f"books: {f['payouts_checked']} payouts checked ({f['payouts_fetched']} fetched), "
        f"{f['journal_batches']} journal batches, {drift} drift items"
    )


def run(args: argparse.Namespace) -> Output:
    """Refresh and print one line (or JSON)."""
    if args.read_models:
        line = read_models_scheduled(open_runtime())
        return Output({"read_models": line}, line)
    figures = refresh(open_runtime(), args.account)
    return Output(figures, _line(figures))


def scheduled(runtime: Runtime) -> str:
    """The scheduler's periodic run."""
    return _line(refresh(runtime))


def read_models_scheduled(runtime: Runtime) -> str:
    """The scheduler's minutely check: recompute the page read models when events arrived."""
    seconds = refresh_read_models(runtime.Session, runtime.settings)
    if seconds is None:
        return "read models: up to date"
    return f"read models: recomputed in {seconds:.1f} s"
