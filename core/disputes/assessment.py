"""Score a dispute case: evidence completeness, win chance, fight-or-accept and priority.

The shell around the pure rules in core.disputes.priority: it builds the evidence packet from
the store, reads the account's win history for the reason, and writes the results (with their
explanations, rule id and policy version) onto the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from core.disputes.evidence.packet import Packet, build_packet
from core.disputes.priority import PriorityInputs, WinChance, fight_or_accept, priority, win_chance
from core.disputes.settings import DisputeConfig
from core.models.disputes import DisputeCase
from core.sync.processing import batch_of, when_kept

RULE_ID = "disputes.assess.v1"
# Processing batch key: the win history of the batch's (account, reason) pairs, see `load_history`.
HISTORY = "disputes.win_history"
_DECIDED = ("won", "lost")


@dataclass
class BatchHistory:
    """Closed disputes per (account, reason), read once per processing batch.

    `stored` counts the cases of `pairs` that no event of the batch is about (nothing writes them
    while the batch runs); `batch` holds what each of the batch's own disputes is as the batch goes
    on (as stored at its start, then as each event that is kept left it)."""

    pairs: set[tuple[str, str]]
    stored: dict[tuple[str, str, str], int]
    batch: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)

    def counts(self, case: DisputeCase) -> dict[str, int]:
        """(outcome → count) of the case's account and reason, the case itself left out."""
        key = (case.account, case.reason)
        counts = {o: self.stored.get((*key, o), 0) for o in _DECIDED}
        for dispute_id, (account, reason, outcome) in self.batch.items():
            if dispute_id != case.dispute_id and (account, reason) == key and outcome in counts:
                counts[outcome] += 1
        return counts


def load_history(
    session: Session,
    disputes: dict[str, tuple[str, str]],
    stored: dict[str, tuple[str, str, str | None]],
) -> BatchHistory:
    """The batch's win history: `disputes` maps each dispute id of the batch to the (account,
    reason) its event names, `stored` the batch's disputes that have a case to what it holds."""
    pairs = set(disputes.values()) | {(a, r) for a, r, _ in stored.values()}
    counts: dict[tuple[str, str, str], int] = {}
    if pairs:
        cases = cast(Table, DisputeCase.__table__).c
        query = (
            select(cases.account, cases.reason, cases.outcome, func.count())
            .where(
                cases.reason.in_(sorted({r for _, r in pairs})),
                cases.account.in_(sorted({a for a, _ in pairs})),
                cases.outcome.in_(_DECIDED),
                cases.dispute_id.not_in(sorted(disputes.keys() | stored.keys())),
            )
            .group_by(cases.account, cases.reason, cases.outcome)
        )
        for account, reason, outcome, n in session.execute(query):
            counts[(account, reason, outcome)] = int(n)
    return BatchHistory(pairs, counts, dict(stored))


def win_history(
    session: Session, account: str, reason: str, case: DisputeCase | None = None
) -> tuple[int, int]:
    """(won, lost) closed disputes of this account for a reason.

    With `case` (being assessed, maybe changed and not yet written), the store is read without
    flushing it first and the case is counted as it stands in memory: one UPDATE of the case per
    assessment instead of two."""
    history = batch_of(session).get(HISTORY) if case is not None else None
    if (
        isinstance(history, BatchHistory)
        and case is not None
        and (account, reason) == (case.account, case.reason)
        and (account, reason) in history.pairs
    ):
        won_lost = _with_case(history.counts(case), account, reason, case)
        seen = (case.dispute_id, (case.account, case.reason, case.outcome))
        when_kept(session, lambda: history.batch.__setitem__(*seen))
        return won_lost
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
    counts = {str(outcome): int(n) for outcome, n in rows}
    return _with_case(counts, account, reason, case)


def _with_case(
    counts: dict[str, int], account: str, reason: str, case: DisputeCase | None
) -> tuple[int, int]:
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
