"""The failed-payments report and its chart, from the recovery analytics."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from core.books import figures
from core.recovery.analytics import cases_frame, rates_by
from core.reports import ChartSpec
from core.reports.writers import major_units

ALL_BUCKETS = "all buckets"


def epoch_period(date_from: date | None, date_to: date | None) -> tuple[int | None, int | None]:
    """The period's [start, end) in epoch seconds, whole UTC days (as the cases frame reads)."""

    def at(d: date) -> int:
        return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())

    return (
        at(date_from) if date_from else None,
        at(date_to) + 86_400 if date_to else None,
    )


def failed_payments_report(
    session: Session, settings: Any, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """The "failed payments" report: recovery per bucket and currency (amounts in major units),
    then the headline recovery rate of every case of the period (core/books/figures.py)."""
    df = major_units(rates_by(cases_frame(session, date_from, date_to), "bucket"),
                     ("recovered_amount",))  # fmt: skip
    if df.empty:
        return df
    headline = figures.recovery_rate(session, *epoch_period(date_from, date_to))
    currencies = sorted(set(df["currency"]))
    total = {
        "bucket": ALL_BUCKETS,
        "currency": currencies[0] if len(currencies) == 1 else "",
        "cases": headline.cases,
        "recovered": headline.recovered,
        # One currency adds up; several are not summed into one number.
        "recovered_amount": df["recovered_amount"].sum() if len(currencies) == 1 else None,
        "recovery_rate": round(headline.rate, 3) if headline.rate is not None else None,
    }
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


def failed_payments_chart(df: pd.DataFrame) -> Any:
    """Bars of recovered amount per bucket."""
    if df.empty:
        return None
    buckets = df[df["bucket"] != ALL_BUCKETS]
    return ChartSpec(
        "bar", "bucket", ("recovered_amount",), "Recovered amount by failure bucket", buckets
    )
