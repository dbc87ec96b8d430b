"""Why MRR at risk moved: the figure now against the same figure as of a day, in its parts.

MRR at risk is defined once (core/books/figures.py): the monthly amount of live subscriptions that
are past due or have an open failed-payment case. The desk keeps no history of the figure, so the
day's value is rebuilt from the cases: a subscription whose open case first failed after the day
was not at risk then ("newly at risk"); a subscription whose case was closed after the day and is
no longer at risk was at risk then ("no longer at risk"). Then = now − newly + no longer. A
subscription that is past due without a case is counted as at risk on both days (its start is
unknown), and the answer says so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.books import figures
from core.models.recovery import RecoveryCase
from core.reports.assistant.queries import customer_names
from core.reports.assistant.spec import MAX_ROWS, Context, Result, iso, money, since_day

Amounts = dict[str, int]


def _add(total: Amounts, currency: str, amount: int) -> None:
    total[currency] = total.get(currency, 0) + amount


def _money_list(amounts: Amounts) -> list[dict[str, Any]]:
    return [m for c, v in sorted(amounts.items()) if (m := money(v, c))]


def explain_mrr_at_risk(ctx: Context, args: dict[str, Any]) -> Result:
    """MRR at risk now and as of `since`, with the subscriptions that explain the change."""
    s = ctx.session
    day = since_day(ctx, args.get("since", "monday"))
    since = ctx.day_start(day)
    now = figures.mrr_figures(s).at_risk
    at_risk = {r["subscription"]: r for r in figures.at_risk_subscriptions(s, limit=1000)}
    subs = figures.subscription_rows()
    mrr_of = {
        sid: (int(m or 0), cur)
        for sid, cur, m in s.execute(select(subs.c.id, subs.c.currency, subs.c.mrr))
    }
    cases = list(
        s.scalars(
            select(RecoveryCase).where(
                RecoveryCase.subscription_id.is_not(None),
                (RecoveryCase.status == "open") | (RecoveryCase.closed_at >= since),
            )
        )
    )
    names = customer_names(s, (c.customer_id for c in cases))
    newly: Amounts = {}
    gone: Amounts = {}
    rows: list[dict[str, Any]] = []
    records: list[dict[str, str]] = []
    seen: set[str] = set()
    for case in sorted(cases, key=lambda c: (c.first_failed_at, c.id)):
        sid = str(case.subscription_id)
        if sid in seen:
            continue
        amount, cur = mrr_of.get(sid, (0, case.currency))
        if amount <= 0:
            continue
        failing_now = sid in at_risk and at_risk[sid]["why"] != figures.SET_TO_CANCEL
        started_before = case.first_failed_at < since
        if failing_now and case.status == "open" and not started_before:
            moved = "newly_at_risk"
            _add(newly, cur, amount)
        elif not failing_now and case.status != "open" and started_before:
            moved = "no_longer_at_risk"
            _add(gone, cur, amount)
        else:
            continue
        seen.add(sid)
        rows.append(
            {
                "change": moved,
                "subscription_id": sid,
                "subscription_mrr": money(amount, cur),
                "case_id": case.id,
                "invoice_id": case.invoice_id,
                "customer_id": case.customer_id,
                "customer_name": case.customer_name or names.get(case.customer_id or ""),
                "first_failed_at": iso(case.first_failed_at, ctx),
                "closed_reason": case.closed_reason,
                "bucket": case.bucket,
            }
        )
        records.append({"kind": "recovery_case", "id": str(case.id), "ref": case.invoice_id})
    then: Amounts = {}
    for cur in set(now) | set(newly) | set(gone):
        value = now.get(cur, 0) - newly.get(cur, 0) + gone.get(cur, 0)
        if value:
            then[cur] = value
    undated = sum(
        1 for sid, r in at_risk.items() if r["why"] == figures.AT_RISK_PAST_DUE and sid not in seen
    )
    change: Amounts = {
        c: now.get(c, 0) - then.get(c, 0)
        for c in set(now) | set(then)
        if now.get(c, 0) != then.get(c, 0)
    }
    summary = {
        "since": day.isoformat(),
        "mrr_at_risk_now": _money_list(now),
        "mrr_at_risk_then": _money_list(then),
        "change": _money_list(change),
        "newly_at_risk": _money_list(newly),
        "no_longer_at_risk": _money_list(gone),
        "past_due_without_case": undated,
        "subscriptions_changed": len(rows),
    }
    # the largest changes first, at most MAX_ROWS of them (the totals above count every one)
    order = sorted(range(len(rows)), key=lambda i: -rows[i]["subscription_mrr"]["amount"])[
        :MAX_ROWS
    ]
    rows, records = [rows[i] for i in order], [records[i] for i in order]
    return Result(
        rows,
        records,
        note=(
            "Then = now - newly_at_risk + no_longer_at_risk; subscriptions past due without a "
            "case are counted on both days."
        ),
        extra=summary,
    )
