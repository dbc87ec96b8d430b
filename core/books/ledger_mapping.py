"""Balance transactions → balanced double-entry journal entries (pure: plain data in and out).

Every Stripe balance transaction moves the Stripe balance by its `net`; the other side is the
`amount` (gross) on an account chosen by `reporting_category`, and the `fee` on a fee account:

    Stripe balance  +net   (debit when positive)
    category acct   -amount
    fee account     +fee

net = amount - fee, so each entry balances by construction. A charge's gross is split into
revenue and, where its invoice carried tax, tax payable. Amounts stay in the balance currency in
minor units; the original currency and Stripe's exchange rate are carried on the entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Roles a chart of accounts must name; the default codes follow a common small-business layout.
DEFAULT_ACCOUNTS: dict[str, tuple[str, str]] = {
    "stripe_balance": ("1010", "Stripe Balance"),
    "bank": ("1000", "Bank - Operating"),
    "revenue": ("4000", "Sales Revenue"),
    "refunds": ("4050", "Refunds and Returns"),
    "tax_payable": ("2200", "Sales Tax Payable"),
    "stripe_fees": ("6100", "Stripe Fees"),
    "fee_tax": ("1400", "Input Tax on Fees"),
    "dispute_losses": ("6150", "Chargebacks"),
    "dispute_fees": ("6160", "Dispute Fees"),
    "adjustments": ("6190", "Stripe Adjustments"),
    "suspense": ("9999", "Stripe Suspense"),
}

# reporting_category → the role of the account that takes the gross amount.
CATEGORY_ROLE: dict[str, str] = {
    "charge": "revenue",
    "payment": "revenue",
    "refund": "refunds",
    "refund_failure": "refunds",
    "partial_capture_reversal": "refunds",
    "dispute": "dispute_losses",
    "dispute_reversal": "dispute_losses",
    "fee": "stripe_fees",
    "platform_earning": "revenue",
    "platform_earning_refund": "refunds",
    "payout": "bank",
    "payout_reversal": "bank",
    "other_adjustment": "adjustments",
    "risk_reserved_funds": "adjustments",
    "risk_released_funds": "adjustments",
}


@dataclass(frozen=True)
class Account:
    """One ledger account as the accounting system knows it."""

    code: str
    name: str


@dataclass(frozen=True)
class ChartOfAccounts:
    """Which ledger account plays each role; unknown categories fall to `suspense`."""

    accounts: dict[str, Account]
    xero_tax_rate: str = "Tax Exempt"

    def __getitem__(self, role: str) -> Account:
        return self.accounts.get(role) or self.accounts["suspense"]


def default_chart() -> ChartOfAccounts:
    """The built-in chart of accounts."""
    return ChartOfAccounts({r: Account(c, n) for r, (c, n) in DEFAULT_ACCOUNTS.items()})


def parse_chart(data: dict[str, Any]) -> ChartOfAccounts:
    """A chart from a dict like `{"accounts": {"revenue": {"code": "400", "name": "Sales"}}}`."""
    chart = dict(default_chart().accounts)
    for role, spec in (data.get("accounts") or {}).items():
        if role not in DEFAULT_ACCOUNTS:
            raise ValueError(
                f"unknown account role {role!r}; known roles: {', '.join(DEFAULT_ACCOUNTS)}"
            )
        if not isinstance(spec, dict) or not str(spec.get("code", "")).strip():
            raise ValueError(f"account role {role!r} needs a code (and a name)")
        chart[role] = Account(str(spec["code"]).strip(), str(spec.get("name", role)).strip())
    return ChartOfAccounts(chart, str(data.get("xero_tax_rate", "Tax Exempt")))


def load_chart(path: Path | None) -> ChartOfAccounts:
    """The chart from a TOML file, or the default when no file is configured."""
    if path is None:
        return default_chart()
    return parse_chart(tomllib.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Line:
    """One journal line: a debit or a credit (minor units, never both) on one account."""

    role: str
    account: Account
    debit: int
    credit: int
    description: str


@dataclass(frozen=True)
class EntryDraft:
    """A balanced journal entry generated from one balance transaction."""

    source_id: str
    created: int
    currency: str
    reporting_category: str
    description: str
    lines: tuple[Line, ...]
    exchange_rate: float | None = None
    original_currency: str | None = None
    original_amount: int | None = None
    payout_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def total_debit(self) -> int:
        """Sum of the debit side."""
        return sum(ln.debit for ln in self.lines)

    @property
    def total_credit(self) -> int:
        """Sum of the credit side."""
        return sum(ln.credit for ln in self.lines)

    @property
    def balanced(self) -> bool:
        """Whether debits equal credits."""
        return self.total_debit == self.total_credit


def _signed(role: str, chart: ChartOfAccounts, amount: int, text: str) -> Line | None:
    """A line from a signed amount: positive debits the account, negative credits it."""
    if amount == 0:
        return None
    return Line(role, chart[role], max(amount, 0), max(-amount, 0), text)


def _fee_lines(bt: dict[str, Any], chart: ChartOfAccounts, category: str) -> list[Line | None]:
    fee = int(bt.get("fee") or 0)
    default_role = "dispute_fees" if category in ("dispute", "dispute_reversal") else "stripe_fees"
    details = bt.get("fee_details") or []
    if details and sum(int(d.get("amount") or 0) for d in details) == fee:
        out: list[Line | None] = []
        for d in details:
            role = "fee_tax" if d.get("type") == "tax" else default_role
            text = str(d.get("description") or d.get("type") or "Stripe fee")
            out.append(_signed(role, chart, int(d.get("amount") or 0), text))
        return out
    return [_signed(default_role, chart, fee, "Stripe fee")]


def map_balance_transaction(
    bt: dict[str, Any],
    chart: ChartOfAccounts,
    *,
    tax_amount: int = 0,
    original_currency: str | None = None,
    original_amount: int | None = None,
    payout_id: str | None = None,
) -> EntryDraft:
    """One balanced entry for a balance transaction; `tax_amount` is in the charge's currency."""
    category = str(bt.get("reporting_category") or bt.get("type") or "unknown")
    amount, net = int(bt.get("amount") or 0), int(bt.get("net") or 0)
    fee = int(bt.get("fee") or 0)
    if net != amount - fee:  # never trust a bad record silently: park the difference
        net = amount - fee
    rate = bt.get("exchange_rate")
    description = str(bt.get("description") or category.replace("_", " "))
    lines: list[Line | None] = [
        _signed("stripe_balance", chart, net, f"Stripe balance: {category}")
    ]
    role = CATEGORY_ROLE.get(category, "suspense")
    if category in ("charge", "payment") and tax_amount:
        # Tax was charged in the invoice currency; convert with the rate Stripe applied.
        tax = round(tax_amount * float(rate)) if rate else tax_amount
        tax = max(min(tax, amount), 0) if amount >= 0 else 0
        lines.append(_signed("tax_payable", chart, -tax, "Tax collected"))
        lines.append(_signed(role, chart, -(amount - tax), description))
    else:
        lines.append(_signed(role, chart, -amount, description))
    lines.extend(_fee_lines(bt, chart, category))
    if original_amount is None and rate and original_currency:
        original_amount = round(amount / float(rate))
    return EntryDraft(
        source_id=str(bt.get("id")),
        created=int(bt.get("created") or 0),
        currency=str(bt.get("currency") or "usd"),
        reporting_category=category,
        description=description,
        lines=tuple(ln for ln in lines if ln is not None),
        exchange_rate=float(rate) if rate else None,
        original_currency=original_currency,
        original_amount=original_amount,
        payout_id=payout_id,
        meta={"source": _source_id(bt.get("source")), "type": bt.get("type")},
    )


def _source_id(source: Any) -> str | None:
    if isinstance(source, dict):
        return str(source.get("id")) if source.get("id") else None
    return str(source) if source else None


def account_totals(entries: list[EntryDraft]) -> dict[tuple[str, str], int]:
    """Signed totals (debit − credit) per (account code, currency) over many entries."""
    totals: dict[tuple[str, str], int] = {}
    for e in entries:
        for ln in e.lines:
            key = (ln.account.code, e.currency)
            totals[key] = totals.get(key, 0) + ln.debit - ln.credit
    return totals
