"""The headline figures as one bundle, for `python -m jobs status` and the daily digest.

Each figure is defined once in core/books/figures.py; this module only gathers them (and says
which window each covers), so `status`, the digest and the pages print the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from core.books import figures
from core.config import Settings
from core.money import format_money

Amounts = dict[str, int]


@dataclass(frozen=True)
class HeadlineFigures:
    """MRR, MRR at risk, unmatched bank deposits and the recovery rate, as of one day."""

    as_of: date
    mrr: Amounts = field(default_factory=dict)
    mrr_at_risk: Amounts = field(default_factory=dict)
    mrr_set_to_cancel: Amounts = field(default_factory=dict)
    unmatched_deposits: int = 0
    bank_window: tuple[date, date] | None = None
    recovery_cases: int = 0
    recovered_cases: int = 0
    recovery_rate: float | None = None  # recovered ÷ cases, all cases so far

    def lines(self) -> list[str]:
        """The figures as sentences for the digest mail and the CLI."""
        return figure_lines(vars(self))


def figure_lines(f: Mapping[str, Any]) -> list[str]:
    """HeadlineFigures (or its plain form, as `status` holds it) as sentences, money formatted."""
    start, end = f.get("bank_window") or (f["as_of"], f["as_of"])
    rate = "no case yet" if f.get("recovery_rate") is None else f"{f['recovery_rate']:.0%}"
    return [
        f"MRR: {_amounts(f['mrr'])}",
        f"MRR at risk (failing payments): {_amounts(f['mrr_at_risk'])}",
        f"MRR set to cancel: {_amounts(f['mrr_set_to_cancel'])}",
        f"Unmatched bank deposits {start} to {end}: {f['unmatched_deposits']:,}",
        f"Recovery rate: {rate} ({f['recovered_cases']:,} of {f['recovery_cases']:,} "
        "failed-payment cases recovered)",
    ]


def _amounts(by_currency: Amounts) -> str:
    parts = sorted(by_currency.items(), key=lambda kv: -abs(kv[1]))
    return " · ".join(format_money(v, c) for c, v in parts) or "none"


def headline_figures(
    session: Session, settings: Settings, today: date | None = None
) -> HeadlineFigures:
    """Every headline figure as of `today` (the team's today by default)."""
    today = today or figures.team_today(settings)
    money = figures.mrr_figures(session)
    rate = figures.recovery_rate(session)
    return HeadlineFigures(
        as_of=today,
        mrr=money.mrr,
        mrr_at_risk=money.at_risk,
        mrr_set_to_cancel=money.set_to_cancel,
        unmatched_deposits=figures.unmatched_deposits(session, today=today),
        bank_window=figures.bank_window(today),
        recovery_cases=rate.cases,
        recovered_cases=rate.recovered,
        recovery_rate=rate.rate,
    )
