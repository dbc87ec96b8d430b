"""Dispute analytics: outcomes by reason and month, time to submission, and the dispute rate
against the card networks' monitoring thresholds (pandas frames for the page and reports)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models.disputes import DisputeCase
from core.money import to_major

# Monthly disputes ÷ sales transactions at which the networks start monitoring a merchant.
MONITORING_THRESHOLDS: dict[str, float] = {
    "Visa monitoring (0.9 %)": 0.009,
    "Mastercard excessive chargebacks (1.5 %)": 0.015,
}


def _month(ts: int | float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m")


def cases_frame(
    session: Session, date_from: date | None = None, date_to: date | None = None
) -> pd.DataFrame:
    """One row per dispute case (amounts in minor units), filtered by the dispute's creation day."""
    cols = (
        DisputeCase.dispute_id,
        DisputeCase.reason,
        DisputeCase.status,
        DisputeCase.outcome,
        DisputeCase.amount,
        DisputeCase.currency,
        DisputeCase.stripe_created,
        DisputeCase.submitted_at,
        DisputeCase.owner,
        DisputeCase.fee,
        DisputeCase.amount_reinstated,
        DisputeCase.recommendation,
        DisputeCase.expected_value,
    )
    rows = [dict(r._mapping) for r in session.execute(select(*cols))]
    df = pd.DataFrame(rows, columns=[c.key for c in cols])
    if df.empty:
        return df
    df["created"] = pd.to_datetime(df["stripe_created"], unit="s", utc=True)
    if date_from:
        df = df[df["created"].dt.date >= date_from]
    if date_to:
        df = df[df["created"].dt.date <= date_to]
    df["month"] = df["created"].dt.strftime("%Y-%m")
    return df.reset_index(drop=True)


def outcomes(
    session: Session, date_from: date | None = None, date_to: date | None = None
) -> pd.DataFrame:
    """Per reason, currency and month: won / lost counts, amounts won / lost in the currency's
    major unit (a ¥5,000 dispute counts 5,000, a $50.00 one 50.0) and the win rate."""
    df = cases_frame(session, date_from, date_to)
    columns = [
        "month",
        "reason",
        "currency",
        "won",
        "lost",
        "amount_won",
        "amount_lost",
        "win_rate",
    ]
    if df.empty:
        return pd.DataFrame(columns=columns)
    decided = df[df["outcome"].isin(["won", "lost"])].copy()
    if decided.empty:
        return pd.DataFrame(columns=columns)
    decided["won"] = (decided["outcome"] == "won").astype(int)
    decided["lost"] = (decided["outcome"] == "lost").astype(int)
    major = [
        to_major(int(a), str(c))
        for a, c in zip(decided["amount"], decided["currency"], strict=True)
    ]
    decided["amount_major"] = major
    decided["amount_won"] = decided["amount_major"].where(decided["outcome"] == "won", 0.0)
    decided["amount_lost"] = decided["amount_major"].where(decided["outcome"] == "lost", 0.0)
    out = decided.groupby(["month", "reason", "currency"], as_index=False)[
        ["won", "lost", "amount_won", "amount_lost"]
    ].sum()
    out["win_rate"] = out["won"] / (out["won"] + out["lost"])
    return out[columns].sort_values(["month", "reason"]).reset_index(drop=True)


def time_to_submission(session: Session) -> pd.DataFrame:
    """Hours from a dispute's creation to its evidence submission, per submitted dispute."""
    df = cases_frame(session)
    if df.empty or df["submitted_at"].isna().all():
        return pd.DataFrame(columns=["dispute_id", "reason", "month", "hours"])
    sub = df[df["submitted_at"].notna()].copy()
    sub["hours"] = (
        pd.to_datetime(sub["submitted_at"], utc=True) - sub["created"]
    ).dt.total_seconds() / 3600
    return sub[["dispute_id", "reason", "month", "hours"]].reset_index(drop=True)


def dispute_rate(session: Session, charges: Mapping[str, int]) -> pd.DataFrame:
    """Per month: charges (as the books job stored them, see `charges_per_month`), disputes, and
    disputes as a share of charges."""
    charges_s = pd.Series(dict(charges), dtype="int64")
    disputes = cases_frame(session)
    per_month = disputes["month"].value_counts() if not disputes.empty else pd.Series(dtype="int64")
    months = sorted(set(charges_s.index) | set(per_month.index))
    rows: list[dict[str, Any]] = []
    for m in months:
        n_charges, n_disputes = int(charges_s.get(m, 0)), int(per_month.get(m, 0))
        rows.append(
            {
                "month": m,
                "charges": n_charges,
                "disputes": n_disputes,
                "share": n_disputes / n_charges if n_charges else None,
            }
        )
    return pd.DataFrame(rows, columns=["month", "charges", "disputes", "share"])
