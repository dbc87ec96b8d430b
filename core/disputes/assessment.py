"""Score a dispute case: evidence completeness, win chance, fight-or-accept and priority.

The shell around the pure rules in core.disputes.priority: it builds the evidence packet from
the store, reads the account's win history for the reason, and writes the results (with their
explanations, rule id and policy version) onto the case.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.disputes.evidence.packet import Packet, build_packet
from core.disputes.priority import PriorityInputs, WinChance, fight_or_accept, priority, win_chance
from core.disputes.settings import DisputeConfig
from core.models.disputes import DisputeCase

RULE_ID = "disputes.assess.v1"


def win_history(
    session: Session, account: str, reason: str, case: DisputeCase | None = None
) -> tuple[int, int]:
    """(won, lost) closed disputes of this account for a reason.

    With `case` (being assessed, maybe changed and not yet written), the store is read without
    flushing it first and the case is counted as it stands in memory: one UPDATE of the case per
    assessment instead of two."""
    query = (
        select(DisputeCase.outcome, func.count())
        .where(
            DisputeCase.account == account,
            DisputeCase.reason == reason,
            DisputeCase.outcome.in_(("won", "lost")),
        )
        .group_by(DisputeCase.outcome)
    )
    if case is None:
        rows = session.execute(query).all()
    else:
        if case.id is not None:
            query = query.where(DisputeCase.id != case.id)
        with session.no_autoflush:
            rows = session.execute(query).all()
    counts = {outcome: int(n) for outcome, n in rows}
    if (
        case is not None
        and case.account == account
        and case.reason == reason
        and case.outcome in ("won", "lost")
    ):
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    return counts.get("won", 0), counts.get("lost", 0)


def assess(
    session: Session, case: DisputeCase, cfg: DisputeConfig, now: int | None = None
) -> tuple[Packet, WinChance]:
    """Recompute the case's completeness, win chance, recommendation and priority."""
    now = now if now is not None else int(datetime.now(UTC).timestamp())
    packet = build_packet(session, case, cfg, now)
    won, lost = win_history(session, case.account, case.reason, case)
    chance = win_chance(case.reason, packet.kinds, won=won, lost=lost)
    rec = fight_or_accept(
        case.amount,
        chance,
        counter_fee=cfg.counter_fee,
        handling_cost=cfg.handling_cost,
        currency=case.currency,
    )
    customer_value = sum(
        int(c.get("amount") or 0) - int(c.get("amount_refunded") or 0)
        for c in packet.context.prior_payments
    )
    hours_left = (case.due_by - now) / 3600 if case.due_by else None
    prio = priority(
        PriorityInputs(
            amount=case.amount,
            reason=case.reason,
            hours_left=hours_left,
            customer_value=customer_value,
            win_chance=chance.value,
            answered=case.answered,
            currency=case.currency,
        )
    )
    case.evidence_completeness = round(packet.checklist.completeness, 3)
    case.win_chance = chance.value
    case.expected_value = rec.expected_value
    case.recommendation = rec.action
    case.recommendation_explanation = list(rec.explanation)
    case.priority = prio.score
    case.priority_explanation = list(prio.explanation)
    case.rule_id = RULE_ID
    case.policy_version = cfg.policy_version
    return packet, chance
