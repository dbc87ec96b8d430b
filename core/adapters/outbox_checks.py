"""Re-checks before an outbox message is sent: the domains register, per kind of object a message
is about (an invoice, a subscription, a dispute), a check that says whether its reason still
holds (`@still_true(kind)`, in the modules named in core/handlers.OUTBOX_CHECK_MODULES, so the
outbox imports no domain). core/adapters/outbox.py runs them just before it claims a message.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from core.handlers import OUTBOX_CHECK_MODULES
from core.models.governance import OutboxMessage

Fetch = Callable[[str, str], dict[str, Any]]
"""(resource, object id) → the object read fresh from Stripe (e.g. StripeGateway.retrieve)."""
Check = Callable[[Session, "OutboxMessage", str, "Fetch | None"], "str | None"]
"""(session, message, object id, fresh reader) → None while the message is still wanted, else
the reason. With a reader, the check also re-reads the Stripe object: the desk's copy may lag."""
CHECKS: dict[str, Check] = {}
_PREFIXES = {"in_": "invoice", "sub_": "subscription", "dp_": "dispute", "du_": "dispute"}


def still_true(kind: str) -> Callable[[Check], Check]:
    """Register the re-check for messages about one kind of object (invoice, dispute, ...)."""

    def register(fn: Check) -> Check:
        if kind in CHECKS and CHECKS[kind] is not fn:
            raise ValueError(f"two outbox checks registered for {kind}")
        CHECKS[kind] = fn
        return fn

    return register


def load_check_modules() -> None:
    """Import the domain modules that register their checks."""
    for name in OUTBOX_CHECK_MODULES:
        importlib.import_module(name)


def about(msg: OutboxMessage) -> tuple[str, str] | None:
    """What a message is about, from `related` ("in_…", "sub_…", "dispute:du_…"), or None."""
    related = (msg.related or "").strip()
    kind, sep, object_id = related.partition(":")
    if sep and kind in CHECKS:
        return kind, object_id
    for prefix, named in _PREFIXES.items():
        if related.startswith(prefix):
            return named, related
    return None


def recheck(session: Session, msg: OutboxMessage, fetch: Fetch | None = None) -> str | None:
    """None when the message is still wanted, else why not (a message about nothing is wanted).

    With `fetch`, the Stripe object is re-read too; a failed read raises (the caller retries
    later rather than sending on a stale copy)."""
    subject = about(msg)
    if subject is None:
        return None
    check = CHECKS.get(subject[0])
    if check is None:
        return None
    return check(session, msg, subject[1], fetch)
