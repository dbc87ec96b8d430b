"""The failed-payments report and its chart, from the recovery analytics."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from core.recovery.analytics import cases_frame, rates_by
from core.reports import ChartSpec
from core.reports.writers import major_units


def failed_payments_report(
    session: Session, settings: Any, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """The "failed payments" report: recovery per bucket and currency (amounts in major units)."""
    return major_units(rates_by(cases_frame(session, date_from, date_to), "bucket"),
                       ("recovered_amount",))  # fmt: skip


def failed_payments_chart(df: pd.DataFrame) -> Any:
    """Bars of recovered amount per bucket."""
    return (
        ChartSpec("bar", "bucket", ("recovered_amount",), "Recovered amount by failure bucket")
        if not df.empty
        else None
    )
