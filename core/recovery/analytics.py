"""Recovery analytics: rates and amounts by bucket, template, segment and week; time to recover.
Frames come from one query each; grouping happens in pandas. The headline recovery rate and MRR
at risk are defined once, in core/books/figures.py; a group's rate here is the same ratio
(recovered ÷ cases) over that group's cases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models.recovery import RecoveryCase, RecoveryDraft

CASE_COLUMNS = (
    "id",
    "invoice_id",
    "customer_id",
    "currency",
    "amount_due",
    "status",
    "bucket",
    "segment",
    "owner",
    "first_failed_at",
    "closed_at",
    "recovered_amount",
    "seconds_to_recover",
    "customer_value",
    "high_risk",
    "escalated",
)


def _epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def cases_frame(
    session: Session, date_from: date | None = None, date_to: date | None = None
) -> pd.DataFrame:
    """Cases whose first failure lies in the range, with the template of their latest e-mail draft."""
    c = RecoveryCase
    stmt = select(*(getattr(c, col) for col in CASE_COLUMNS))
    if date_from:
        stmt = stmt.where(c.first_failed_at >= _epoch(date_from))
    if date_to:
        stmt = stmt.where(c.first_failed_at < _epoch(date_to) + 86_400)
    df = pd.DataFrame(session.execute(stmt).all(), columns=list(CASE_COLUMNS))
    templates = dict(
        session.execute(
            select(
                RecoveryDraft.case_id,
                RecoveryDraft.template_id + "@" + RecoveryDraft.template_version,
            )
            .where(RecoveryDraft.channel == "email", RecoveryDraft.case_id.is_not(None))
            .order_by(RecoveryDraft.id)
        ).all()
    )
    df["template"] = df["id"].map(templates).fillna("no message")
    df["segment"] = df["segment"].fillna("unknown")
    df["week"] = pd.to_datetime(df["first_failed_at"], unit="s").dt.to_period("W").dt.start_time
    df["recovered"] = df["status"] == "recovered"
    return df


def rates_by(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """Cases, recovered, recovery rate and recovered amount per `key` (and currency)."""
    if df.empty:
        return pd.DataFrame(
            columns=[
                key,
                "currency",
                "cases",
                "recovered",
                "recovery_rate",
                "recovered_amount",
            ]
        )
    out = (
        df.groupby([key, "currency"], dropna=False)
        .agg(
            cases=("id", "count"),
            recovered=("recovered", "sum"),
            recovered_amount=("recovered_amount", lambda s: int(s.fillna(0).sum())),
        )
        .reset_index()
    )
    out["recovery_rate"] = (out["recovered"] / out["cases"]).round(3)
    return out.sort_values([key, "currency"]).reset_index(drop=True)


def median_hours_to_recover(df: pd.DataFrame) -> float | None:
    """Median time from first failure to payment, in hours (recovered cases only)."""
    s = df.loc[df["recovered"], "seconds_to_recover"].dropna()
    return round(float(s.median()) / 3600, 1) if len(s) else None


def summary(
    session: Session, date_from: date | None = None, date_to: date | None = None
) -> dict[str, Any]:
    """Everything the analytics tab shows."""
    df = cases_frame(session, date_from, date_to)
    return {
        "frame": df,
        "by_bucket": rates_by(df, "bucket"),
        "by_template": rates_by(df, "template"),
        "by_segment": rates_by(df, "segment"),
        "by_week": rates_by(df, "week"),
        "median_hours_to_recover": median_hours_to_recover(df),
    }
