"""Tax collected per jurisdiction and period, from invoice snapshots, for the filer.

Reads Stripe Tax amounts in the current shape (`invoice.total_taxes[]` with `tax_rate_details`,
or line `taxes[]`) and the older one (`total_tax_amounts[]` with `tax_rate`). A tax rate may be
expanded or an id; ids are looked up among stored `tax_rate` snapshots, and failing that the
customer's address names the jurisdiction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

TaxRateLookup = Callable[[str], dict[str, Any] | None]


def _rate_of(entry: dict[str, Any], lookup: TaxRateLookup) -> dict[str, Any]:
    ref = (entry.get("tax_rate_details") or {}).get("tax_rate") or entry.get("tax_rate")
    if isinstance(ref, dict):
        return ref
    if isinstance(ref, str):
        return lookup(ref) or {"id": ref}
    return {}


def invoice_tax_rows(inv: dict[str, Any], lookup: TaxRateLookup) -> list[dict[str, Any]]:
    """One row per tax amount on an invoice: jurisdiction, type, taxable and tax amounts (pure)."""
    entries = inv.get("total_taxes") or inv.get("total_tax_amounts") or []
    if not entries:
        lines = (inv.get("lines") or {}).get("data") or []
        entries = [t for ln in lines for t in (ln.get("taxes") or ln.get("tax_amounts") or [])]
    address = inv.get("customer_address") or {}
    rows = []
    for e in entries:
        amount = int(e.get("amount") or 0)
        if not amount and not e.get("taxable_amount"):
            continue
        rate = _rate_of(e, lookup)
        country = rate.get("country") or address.get("country") or "unknown"
        state = rate.get("state") or address.get("state") or ""
        rows.append(
            {
                "jurisdiction": rate.get("jurisdiction")
                or (f"{country}-{state}" if state else country),
                "country": country,
                "state": state,
                "tax_type": rate.get("tax_type") or rate.get("display_name") or "tax",
                "rate_pct": rate.get("effective_percentage") or rate.get("percentage"),
                "currency": inv.get("currency") or "usd",
                "taxable_amount": int(e.get("taxable_amount") or 0),
                "tax_amount": amount,
                "inclusive": e.get("tax_behavior") == "inclusive" or bool(e.get("inclusive")),
            }
        )
    return rows


def invoice_tax_day(inv: dict[str, Any]) -> date:
    """The day an invoice's tax counts for: when it was paid, else finalized, else created."""
    st = inv.get("status_transitions") or {}
    ts = st.get("paid_at") or st.get("finalized_at") or inv.get("created") or 0
    return datetime.fromtimestamp(int(ts), UTC).date()


def tax_summary(
    invoices: Iterable[dict[str, Any]],
    lookup: TaxRateLookup,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[dict[str, Any]]:
    """Tax per month, jurisdiction, type and currency over paid invoices in the period (pure;
    the invoices are read once, so a streamed query never lands in memory whole)."""
    groups: dict[tuple[str, ...], dict[str, Any]] = defaultdict(
        lambda: {"invoices": 0, "taxable_amount": 0, "tax_amount": 0}
    )
    for inv in invoices:
        if inv.get("status") != "paid":
            continue
        day = invoice_tax_day(inv)
        if (date_from and day < date_from) or (date_to and day > date_to):
            continue
        for r in invoice_tax_rows(inv, lookup):
            key = (day.strftime("%Y-%m"), r["jurisdiction"], r["country"], r["state"],
                   r["tax_type"], r["currency"])  # fmt: skip
            g = groups[key]
            g["invoices"] += 1
            g["taxable_amount"] += r["taxable_amount"]
            g["tax_amount"] += r["tax_amount"]
    return [
        {
            "period": k[0],
            "jurisdiction": k[1],
            "country": k[2],
            "state": k[3],
            "tax_type": k[4],
            "currency": k[5],
            **v,
        }
        for k, v in sorted(groups.items())
    ]
