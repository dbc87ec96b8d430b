"""Dispute outcomes are counted per currency, in each currency's own unit (yen have no cents)."""

from __future__ import annotations

from typing import Any

from core.disputes.analytics import outcomes
from core.models.disputes import DisputeCase

CREATED = 1_780_000_000  # May 2026


def _case(n: int, amount: int, currency: str, outcome: str) -> DisputeCase:
    return DisputeCase(
        dispute_id=f"dp_{n}",
        amount=amount,
        currency=currency,
        reason="fraudulent",
        status=outcome,
        outcome=outcome,
        stripe_created=CREATED,
        source_created=CREATED,
    )


def test_yen_and_dollars_are_never_added_or_divided_by_100(Session: Any) -> None:
    with Session.begin() as session:
        session.add_all(
            [
                _case(1, 500_000, "jpy", "won"),  # ¥500,000
                _case(2, 120_000, "jpy", "lost"),  # ¥120,000
                _case(3, 5_000, "usd", "won"),  # $50.00
            ]
        )
    with Session() as session:
        frame = outcomes(session)
    rows = {r["currency"]: r for r in frame.to_dict("records")}
    assert set(rows) == {"jpy", "usd"}
    assert (rows["jpy"]["amount_won"], rows["jpy"]["amount_lost"]) == (500_000, 120_000)
    assert (rows["jpy"]["won"], rows["jpy"]["lost"]) == (1, 1)
    assert (rows["usd"]["amount_won"], rows["usd"]["amount_lost"]) == (50.0, 0)
