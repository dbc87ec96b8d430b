"""Shared widgets: how an action request, its evidence and its outcome are shown."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from core.adapters.stripe_links import PREFIX_PATHS
from core.disputes.labels import reason_label
from core.errors import CoreError
from core.governance.states import MONEY_TYPES
from core.models.governance import ActionRequest, Approval
from core.money import format_money
from dashboard.format import md_text, stripe_link

# Parameters an approver does not need to read again: the body has its own expander, the
# currency is part of every formatted amount.
_HIDDEN_PARAMS = ("body", "currency")


def title_of(action: ActionRequest, names: Mapping[str, str] | None = None) -> str:
    """One line naming the action: type, who it is for (the customer's name when known, else
    the target's id) and amount."""
    kind = action.action_type.replace("_", " ").capitalize()
    money = (
        f" · {format_money(action.amount, action.currency)}" if action.amount is not None else ""
    )
    who = (names or {}).get(action.target_id) or action.target_id
    return f"#{action.id} {kind} · {who}{money}"


def is_stripe_id(value: Any) -> bool:
    """Whether a value is a Stripe object id the dashboard has a page for (ch_…, in_…, cus_…)."""
    return (
        isinstance(value, str)
        and " " not in value
        and any(value.startswith(p) and len(value) > len(p) for p in PREFIX_PATHS)
    )


def is_money_move(action: ActionRequest) -> bool:
    """Whether approving it moves money (and so needs a confirmation dialog)."""
    return action.action_type in MONEY_TYPES


def when(ts: datetime | None, tz: Any = None) -> str:
    """A timestamp in the team's time zone, minutes precision."""
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M") if ts else "—"


def render_why(
    action: ActionRequest, approvals: Sequence[Approval], tz: Any = None, mode: str = "sandbox"
) -> None:
    """The reason, the rule and policy version behind it, and the evidence an approver needs."""
    st.markdown(f"**Why:** {md_text(action.reason)}")
    if is_stripe_id(action.target_id):
        st.caption(f"In Stripe: {stripe_link(action.target_id, mode, action.account or '')}")
    rule = action.rule_id or "requested by hand"
    st.caption(
        f"Rule: `{rule}` · policy `{action.policy_version}` · requested by **{md_text(action.requested_by)}** "
        f"on {when(action.created_at, tz)} · needs {action.required_approvals} approver(s) · "
        f"expires {when(action.expires_at, tz)}"
    )
    evidence = dict(action.evidence or {})
    if evidence:
        rows = [
            {
                "evidence": md_text(k.replace("_", " ")),
                "value": md_text(_show(k, v, action.currency)),
            }
            for k, v in evidence.items()
        ]
        # A plain HTML table: always painted, printable, and easy to read at a glance.
        st.table(pd.DataFrame(rows).set_index("evidence"))
    params = {k: v for k, v in (action.params or {}).items() if k not in _HIDDEN_PARAMS}
    if params:
        st.caption(
            "Details: "
            + " · ".join(
                f"{md_text(k.replace('_', ' '))}: {_param(k, v, action, mode)}"
                for k, v in params.items()
            )
        )
    if action.params.get("body"):
        with st.expander("Message text"):
            st.text(str(action.params["body"]))
    for a in approvals:
        verb = "approved" if a.decision == "approve" else "rejected"
        st.caption(
            f"{md_text(a.username)} {verb} on {when(a.created_at, tz)}: “{md_text(a.reason)}”"
        )


def _param(key: str, value: Any, action: ActionRequest, mode: str) -> str:
    """One request parameter as Markdown: money formatted, reasons as labels, ids linked."""
    if key.endswith("reason") and isinstance(value, str):
        return md_text(reason_label(value))
    if is_stripe_id(value):
        return stripe_link(value, mode, action.account or "")
    return md_text(_show(key, value, action.currency))


def _show(key: str, value: Any, currency: str | None) -> str:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (key == "amount" or key.endswith(("_value", "_amount")))
    ):
        return format_money(value, currency)
    return str(value)


def outcome_rows(
    actions: Sequence[ActionRequest], tz: Any = None, names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Rows for an outcomes table: what happened after the decision."""
    return [
        {
            "action": title_of(a, names),
            "status": a.status,
            "what happened": a.outcome_note or a.last_error or "",
            "finished": when(a.finished_at or a.updated_at, tz),
            "requested by": a.requested_by,
        }
        for a in actions
    ]


def pager(total: int, page_size: int, key: str, noun: str = "items") -> int:
    """A page picker shown only when `total` overflows one page; returns the row offset."""
    if total <= page_size:
        return 0
    pages = -(-total // page_size)
    if int(st.session_state.get(key, 1)) > pages:  # the list shrank since the page was picked
        st.session_state[key] = pages
    left, right = st.columns([1, 4])
    page = int(
        left.number_input(
            "Page", min_value=1, max_value=pages, value=1, step=1, key=key, help=f"{pages} pages"
        )
    )
    offset = (page - 1) * page_size
    right.caption(
        f"Showing {offset + 1}–{min(offset + page_size, total)} of {total} {noun} (oldest first)."
    )
    return offset


_FLASH_KEY = "ledgerdesk_flash"


def flash(kind: str, text: str) -> None:
    """Keep a message to show after the next rerun ("success", "error", "info")."""
    st.session_state.setdefault(_FLASH_KEY, []).append((kind, text))


def show_flash() -> None:
    """Show (once) the messages kept by flash()."""
    for kind, text in st.session_state.pop(_FLASH_KEY, []):
        getattr(st, kind)(text)


@contextmanager
def shows_errors() -> Iterator[None]:
    """Turn a CoreError into a flashed st.error (its message says what to do); bugs propagate."""
    try:
        yield
    except CoreError as exc:
        flash("error", str(exc))
