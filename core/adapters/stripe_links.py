"""Links from a Stripe object id to its page in the Stripe dashboard."""

from __future__ import annotations

PREFIX_PATHS = {
    "cus_": "customers",
    "in_": "invoices",
    "sub_": "subscriptions",
    "pi_": "payments",
    "ch_": "payments",
    "py_": "payments",
    "re_": "refunds",
    "du_": "disputes",
    "dp_": "disputes",
    "issfr_": "radar/early-fraud-warnings",
    "po_": "payouts",
    "txn_": "balance/history",
    "evt_": "events",
    "prod_": "products",
    "price_": "prices",
}


def dashboard_url(object_id: str, *, mode: str, account: str = "") -> str | None:
    """The dashboard page of `object_id`; None in sandbox mode or for an unknown kind of id."""
    if mode == "sandbox" or not object_id:
        return None
    path = next((p for prefix, p in PREFIX_PATHS.items() if object_id.startswith(prefix)), None)
    if path is None:
        return None
    parts = ["https://dashboard.stripe.com"]
    if account:
        parts.append(account)
    if mode != "live":
        parts.append("test")
    parts.extend([path, object_id])
    return "/".join(parts)
