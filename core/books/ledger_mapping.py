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
    "stripe_reserve": ("1020", "Stripe Balance - Held Funds"),
    "fx_clearing": ("1030", "Currency Conversion Clearing"),
    "bank": ("1000", "Bank - Operating"),
    "revenue": ("4000", "Sales Revenue"),
    "refunds": ("4050", "Refunds and Returns"),
    "failed_payments": ("4060", "Failed Payments"),
    "platform_fees": ("4100", "Platform Fees Earned"),
    "customer_funds": ("2100", "Customer Funds Received"),
    "tax_payable": ("2200", "Sales Tax Payable"),
    "connect_transfers": ("2300", "Connected Account Transfers"),
    "financing": ("2400", "Stripe Capital Financing"),
    "stripe_fees": ("6100", "Stripe Fees"),
    "fee_tax": ("1400", "Input Tax on Fees"),
    "dispute_losses": ("6150", "Chargebacks"),
    "dispute_fees": ("6160", "Dispute Fees"),
    "adjustments": ("6190", "Stripe Adjustments"),
    "contributions": ("6300", "Climate Contributions"),
    "issuing_spend": ("6400", "Card Issuing Spend"),
    "suspense": ("9999", "Stripe Suspense"),
}

# reporting_category → the role of the account that takes the gross amount. Every category
# Stripe documents is here (https://docs.stripe.com/reports/reporting-categories); a category
# that is not, or that a chart maps to `suspense`, is booked to suspense and flagged.
CATEGORY_ROLE: dict[str, str] = {
    # payments
    "charge": "revenue",
    "payment": "revenue",  # a `type`, used when an old record has no reporting_category
    "refund": "refunds",
    "refund_failure": "refunds",
    "partial_capture_reversal": "refunds",
    "charge_failure": "failed_payments",
    "dispute": "dispute_losses",
    "dispute_reversal": "dispute_losses",
    "unreconciled_customer_funds": "customer_funds",
    # Stripe's own charges
    "fee": "stripe_fees",
    "network_cost": "stripe_fees",
    "tax": "tax_payable",
    "other_adjustment": "adjustments",
    # moving money between the Stripe balance and the bank
    "payout": "bank",
    "payout_reversal": "bank",
    "topup": "bank",
    "topup_reversal": "bank",
    "currency_conversion": "fx_clearing",
    # funds Stripe holds back, then releases: still the account's money
    "risk_reserved_funds": "stripe_reserve",
    "risk_released_funds": "stripe_reserve",
    "connect_reserved_funds": "stripe_reserve",
    "payout_minimum_balance_hold": "stripe_reserve",
    "payout_minimum_balance_release": "stripe_reserve",
    "payment_network_reserve_hold": "stripe_reserve",
    "payment_network_reserve_release": "stripe_reserve",
    "issuing_authorization_hold": "stripe_reserve",
    "issuing_authorization_release": "stripe_reserve",
    # Connect
    "transfer": "connect_transfers",
    "transfer_reversal": "connect_transfers",
    "connect_collection_transfer": "connect_transfers",
    "obligation": "connect_transfers",
    "platform_earning": "platform_fees",
    "platform_earning_refund": "platform_fees",
    # Stripe Capital and other financing
    "advance": "financing",
    "advance_funding": "financing",
    "anticipation_repayment": "financing",
    "financing_paydown": "financing",
    "financing_paydown_reversal": "financing",
    "financing_payout": "financing",
    "financing_payout_reversal": "financing",
    # Climate and Issuing
    "contribution": "contributions",
    "climate_order_purchase": "contributions",
    "climate_order_refund": "contributions",
    "issuing_transaction": "issuing_spend",
    "issuing_dispute": "issuing_spend",
}

DISPUTE_CATEGORIES = ("dispute", "dispute_reversal")

UNMAPPED_HINT = (
    "map each in the chart of accounts file (CHART_OF_ACCOUNTS_FILE), e.g. "
    '[categories] {example} = "adjustments", then rebuild the open batches '
    "(python -m jobs journal build --rebuild)"
)


def unmapped_hint(categories: list[str]) -> str:
    """What to do about categories booked to suspense, naming the first one as the example."""
    return UNMAPPED_HINT.format(example=categories[0] if categories else "new_category")


@dataclass(frozen=True)
class Account:
    """One ledger account as the accounting system knows it."""

    code: str
    name: str


@dataclass(frozen=True)
class ChartOfAccounts:
    """Which ledger account plays each role, and which role takes each reporting category.

    `categories` adds to (or overrides) the built-in category map; a category in neither falls
    to `suspense`.
    """

    accounts: dict[str, Account]
    xero_tax_rate: str = "Tax Exempt"
    categories: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, role: str) -> Account:
        return self.accounts.get(role) or self.accounts["suspense"]

    def role_for(self, category: str) -> str:
        """The role whose account takes a category's gross amount (`suspense` when unknown)."""
        return self.categories.get(category) or CATEGORY_ROLE.get(category) or "suspense"

    def is_mapped(self, category: str) -> bool:
        """Whether a category books to a real account rather than suspense."""
        return self.role_for(category) != "suspense"


def default_chart() -> ChartOfAccounts:
    """The built-in chart of accounts."""
    return ChartOfAccounts({r: Account(c, n) for r, (c, n) in DEFAULT_ACCOUNTS.items()})


def parse_chart(data: dict[str, Any]) -> ChartOfAccounts:
    """A chart from a dict like `{"accounts": {"revenue": {"code": "400", "name": "Sales"}},
    "categories": {"new_category": "adjustments"}}`."""
    chart = dict(default_chart().accounts)
    for role, spec in (data.get("accounts") or {}).items():
        if role not in DEFAULT_ACCOUNTS:
            raise ValueError(
                f"unknown account role {role!r}; known roles: {', '.join(DEFAULT_ACCOUNTS)}"
            )
        if not isinstance(spec, dict) or not str(spec.get("code", "")).strip():
            raise ValueError(f"account role {role!r} needs a code (and a name)")
        chart[role] = Account(str(spec["code"]).strip(), str(spec.get("name", role)).strip())
    categories: dict[str, str] = {}
    for category, role in (data.get("categories") or {}).items():
        if not isinstance(role, str) or role not in DEFAULT_ACCOUNTS:
            raise ValueError(
                f"reporting category {category!r} maps to {role!r}, which is not a role; "
                f"known roles: {', '.join(DEFAULT_ACCOUNTS)}"
            )
        categories[str(category)] = role
    return ChartOfAccounts(chart, str(data.get("xero_tax_rate", "Tax Exempt")), categories)


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

    @property
    def in_suspense(self) -> bool:
        """Whether part of the entry was parked on the suspense account."""
        return any(ln.role == "suspense" for ln in self.lines)


def _signed(role: str, chart: ChartOfAccounts, amount: int, text: str) -> Line | None:
    """A line from a signed amount: positive debits the account, negative credits it."""
    if amount == 0:
        return None
    return Line(role, chart[role], max(amount, 0), max(-amount, 0), text)


def _fee_lines(bt: dict[str, Any], chart: ChartOfAccounts, category: str) -> list[Line | None]:
    fee = int(bt.get("fee") or 0)
    default_role = "dispute_fees" if category in DISPUTE_CATEGORIES else "stripe_fees"
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
    role = chart.role_for(category)
    if role == "suspense":  # the export carries the flag too, so the books show what to fix
        description = (
            f"{description} (unknown reporting category {category!r}: map it in the chart)"
        )
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
