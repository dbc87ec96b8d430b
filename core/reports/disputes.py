"""The disputes report and its chart, from the dispute analytics."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from core.disputes.analytics import cases_frame
from core.reports import ChartSpec
from core.reports.writers import major_units

MONEY = ("amount", "fee", "amount_reinstated", "expected_value")


def disputes_report(
    session: Session, settings: Any, date_from: date | None, date_to: date | None
) -> pd.DataFrame:
    """The disputes report: one row per dispute with outcome, amounts (major units) and advice."""
    df = cases_frame(session, date_from, date_to)
    if df.empty:
        return df
    out = major_units(df.drop(columns=["stripe_created"]), MONEY)
    out["created"] = out["created"].dt.strftime("%Y-%m-%d %H:%M")
    out["submitted_at"] = out["submitted_at"].astype("string")
    return out.sort_values("created").reset_index(drop=True)


def disputes_chart(df: pd.DataFrame) -> Any:
    """Disputed amount per month (bars)."""
    if df.empty:
        return None
    frame = df.groupby("month", as_index=False)["amount"].sum()
    return ChartSpec("bar", "month", ("amount",), "Disputed amount per month", frame=frame)
