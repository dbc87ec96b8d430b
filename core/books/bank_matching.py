"""Bank deposits ↔ Stripe payouts (pure): by trace id, then amount and date window, then splits.

Each Stripe account pays out to its own bank account, so matching runs per account: a
connected account's payouts are matched only against that account's statement, and an account
with no statement imported is reported as such instead of as that many missing deposits.

Each deposit and payout is used at most once. Among equal amounts the closest date wins and ties
fall to the earlier payout, so two payouts of the same amount on one day pair off with two
deposits instead of both claiming the first. Whatever stays unmatched on either side is listed
with its likeliest reason: in transit, failed payout, manual payout, split deposit, not Stripe.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta

DAYS_BEFORE = 1  # a bank may post a day before Stripe's expected arrival date
DAYS_AFTER = 3  # ... or a few business days after it
IN_TRANSIT_GRACE_DAYS = 2
MAX_SPLIT_PARTS = 3


@dataclass(frozen=True)
class Deposit:
    """One bank statement line (credits are positive)."""

    id: str
    posted_on: date
    amount: int
    currency: str
    description: str = ""
    reference: str = ""
    account: str = ""  # the Stripe account whose statement this is ("" = platform)

    @property
    def label(self) -> str:
        """How the bank names the line: its reference, else its description, else the row."""
        return self.reference or self.description or f"statement line {self.id}"


@dataclass(frozen=True)
class PayoutInfo:
    """What matching needs to know about a payout."""

    id: str
    arrival_on: date
    amount: int
    currency: str
    status: str
    automatic: bool = True
    trace_id: str | None = None
    failed_after_paid: bool = False
    account: str = ""


@dataclass(frozen=True)
class Match:
    """A payout and the deposit(s) that carried it."""

    payout_id: str
    deposit_ids: tuple[str, ...]
    method: str  # "trace id" | "amount and date" | "split deposit"
    days_late: int
    account: str = ""
    on: date | None = None  # the payout's arrival date: the day the pair belongs to
    amount: int = 0
    currency: str = ""
    deposit_labels: tuple[str, ...] = ()  # the deposits as the bank names them
    deposit_dates: tuple[date, ...] = ()


@dataclass(frozen=True)
class Unmatched:
    """A payout or a deposit nobody matched, with the likeliest reason."""

    side: str  # "payout" | "deposit"
    id: str
    on: date
    amount: int
    currency: str
    reason: str
    account: str = ""
    label: str = ""  # a deposit as the bank names it (its reference or description)


def _in(day: date | None, date_from: date | None, date_to: date | None) -> bool:
    return (
        day is not None and (not date_from or day >= date_from) and (not date_to or day <= date_to)
    )


@dataclass
class MatchResult:
    """Matches and the unmatched on both sides (withdrawals apart: they are not deposits)."""

    matches: list[Match] = field(default_factory=list)
    unmatched_payouts: list[Unmatched] = field(default_factory=list)
    unmatched_deposits: list[Unmatched] = field(default_factory=list)
    unmatched_withdrawals: list[Unmatched] = field(default_factory=list)

    def within(self, date_from: date | None, date_to: date | None) -> MatchResult:
        """What belongs to the period: pairs and payouts by the payout's arrival date,
        deposits and withdrawals by the day they were posted."""
        return MatchResult(
            [m for m in self.matches if _in(m.on, date_from, date_to)],
            [u for u in self.unmatched_payouts if _in(u.on, date_from, date_to)],
            [u for u in self.unmatched_deposits if _in(u.on, date_from, date_to)],
            [u for u in self.unmatched_withdrawals if _in(u.on, date_from, date_to)],
        )


FAILED = ("failed", "canceled")


def _window(p: PayoutInfo, d: Deposit) -> bool:
    delta = (d.posted_on - p.arrival_on).days
    return p.currency == d.currency and -DAYS_BEFORE <= delta <= DAYS_AFTER


def _traced(p: PayoutInfo, d: Deposit) -> bool:
    text = f"{d.reference} {d.description}"
    return bool(p.trace_id and p.trace_id in text) or p.id in text


def match_deposits(
    deposits: list[Deposit], payouts: list[PayoutInfo], today: date, account: str = ""
) -> MatchResult:
    """Match one account's deposits to its payouts and explain what is left over."""
    result = MatchResult()
    live = [p for p in payouts if p.status not in FAILED]
    credits = [d for d in deposits if d.amount > 0]
    used_p: set[str] = set()
    used_d: set[str] = set()

    def take(p: PayoutInfo, ds: tuple[Deposit, ...], method: str) -> None:
        used_p.add(p.id)
        used_d.update(d.id for d in ds)
        late = max((d.posted_on - p.arrival_on).days for d in ds)
        result.matches.append(
            Match(
                p.id,
                tuple(d.id for d in ds),
                method,
                late,
                account,
                p.arrival_on,
                p.amount,
                p.currency,
                tuple(d.label for d in ds),
                tuple(d.posted_on for d in ds),
            )
        )

    for p in sorted(live, key=lambda p: (p.arrival_on, p.id)):
        for d in credits:
            if d.id not in used_d and d.amount == p.amount and _traced(p, d):
                take(p, (d,), "trace id")
                break
    pairs = [
        (
            abs((d.posted_on - p.arrival_on).days),
            (d.posted_on < p.arrival_on),
            p.arrival_on,
            p.id,
            d.posted_on,
            d.id,
            p,
            d,
        )
        for p in live
        for d in credits
        if p.amount == d.amount and _window(p, d)
    ]
    for *_, p, d in sorted(pairs, key=lambda t: t[:6]):
        if p.id not in used_p and d.id not in used_d:
            take(p, (d,), "amount and date")
    for p in sorted(live, key=lambda p: (p.arrival_on, p.id)):
        if p.id in used_p:
            continue
        near = [d for d in credits if d.id not in used_d and _window(p, d) and d.amount < p.amount]
        if len(near) > 12:  # keep the subset search small; big days need a human anyway
            near = sorted(near, key=lambda d: abs((d.posted_on - p.arrival_on).days))[:12]
        found = next(
            (
                combo
                for k in range(2, MAX_SPLIT_PARTS + 1)
                for combo in itertools.combinations(near, k)
                if sum(d.amount for d in combo) == p.amount
            ),
            None,
        )
        if found:
            take(p, found, "split deposit")
    for p in payouts:
        if p.id not in used_p:
            result.unmatched_payouts.append(
                Unmatched(
                    "payout",
                    p.id,
                    p.arrival_on,
                    p.amount,
                    p.currency,
                    _payout_reason(p, today),
                    account,
                )
            )
    open_payouts = [p for p in payouts if p.id not in used_p]
    for d in deposits:
        if d.id not in used_d:
            side = "deposit" if d.amount > 0 else "withdrawal"
            unmatched = Unmatched(
                side,
                d.id,
                d.posted_on,
                d.amount,
                d.currency,
                _deposit_reason(d, open_payouts, payouts),
                account,
                d.label,
            )
            if side == "deposit":
                result.unmatched_deposits.append(unmatched)
            else:
                result.unmatched_withdrawals.append(unmatched)
    return result


@dataclass
class AccountMatch:
    """One Stripe account's payouts against its own bank statement."""

    account: str
    has_statement: bool
    payouts: int  # payouts of the period
    result: MatchResult = field(default_factory=MatchResult)

    @property
    def label(self) -> str:
        """The account as the team names it."""
        return self.account or "platform"


@dataclass
class BankMatching:
    """Matching per account; the flat lists cover only accounts whose statement was imported."""

    accounts: list[AccountMatch] = field(default_factory=list)

    @property
    def matches(self) -> list[Match]:
        """Every account's matches."""
        return [m for a in self.accounts for m in a.result.matches]

    @property
    def unmatched_payouts(self) -> list[Unmatched]:
        """Payouts with no deposit on their own account's statement."""
        return [u for a in self.accounts for u in a.result.unmatched_payouts]

    @property
    def unmatched_deposits(self) -> list[Unmatched]:
        """Statement credits that match none of their account's payouts."""
        return [u for a in self.accounts for u in a.result.unmatched_deposits]

    @property
    def unmatched_withdrawals(self) -> list[Unmatched]:
        """Statement debits (withdrawals, returned payouts): listed, never counted as deposits."""
        return [u for a in self.accounts for u in a.result.unmatched_withdrawals]

    @property
    def without_statement(self) -> list[AccountMatch]:
        """Accounts with payouts but no bank statement imported."""
        return [a for a in self.accounts if not a.has_statement]


def match_accounts(
    deposits: list[Deposit],
    payouts: list[PayoutInfo],
    today: date,
    statements: set[str] | frozenset[str],
) -> BankMatching:
    """Match each account's payouts against its own statement (`statements`: accounts that have
    one); an account without a statement is listed, not matched."""
    by_account: dict[str, tuple[list[Deposit], list[PayoutInfo]]] = {}
    for d in deposits:
        by_account.setdefault(d.account, ([], []))[0].append(d)
    for p in payouts:
        by_account.setdefault(p.account, ([], []))[1].append(p)
    out = BankMatching()
    for account in sorted(set(by_account) | set(statements)):
        ds, ps = by_account.get(account, ([], []))
        has = account in statements or bool(ds)
        result = match_deposits(ds, ps, today, account) if has else MatchResult()
        out.accounts.append(AccountMatch(account, has, len(ps), result))
    return out


def limit_to_period(
    matching: BankMatching,
    payouts: list[PayoutInfo],
    date_from: date | None,
    date_to: date | None,
) -> BankMatching:
    """The part of a matching of every payout and deposit that belongs to the period: the
    matching itself must see everything, or a deposit carrying a payout from just before the
    period would look unmatched."""
    in_period: dict[str, int] = {}
    for p in payouts:
        if _in(p.arrival_on, date_from, date_to):
            in_period[p.account] = in_period.get(p.account, 0) + 1
    out = BankMatching()
    for a in matching.accounts:
        result = a.result.within(date_from, date_to)
        n = in_period.get(a.account, 0)
        if n or result.unmatched_deposits or result.unmatched_withdrawals or a.has_statement:
            out.accounts.append(AccountMatch(a.account, a.has_statement, n, result))
    return out


def _payout_reason(p: PayoutInfo, today: date) -> str:
    if p.failed_after_paid:
        return "failed payout: reported paid, then failed — expect no deposit or a return"
    if p.status in FAILED:
        return f"failed payout ({p.status}): no deposit expected"
    if p.status in ("pending", "in_transit"):
        if p.arrival_on >= today - timedelta(days=IN_TRANSIT_GRACE_DAYS):
            return "in transit: not yet expected in the bank"
        return "in transit past its arrival date: ask Stripe / the bank"
    if not p.automatic:
        return "manual payout: no deposit of this amount near its date"
    return "no deposit of this amount within the date window"


def _deposit_reason(d: Deposit, open_payouts: list[PayoutInfo], every: list[PayoutInfo]) -> str:
    if d.amount <= 0:
        return "withdrawal or returned payout (not a deposit)"
    for p in every:
        if p.status in FAILED and p.amount == d.amount and p.currency == d.currency:
            return f"matches failed payout {p.id}: expect it to be returned"
    for p in open_payouts:
        if p.currency == d.currency and d.amount < p.amount and _window(p, d):
            return f"split deposit: part of payout {p.id}?"
    if "stripe" not in f"{d.description} {d.reference}".lower():
        return "not from Stripe (no Stripe reference)"
    return "no payout of this amount near this date (manual payout or another account?)"
