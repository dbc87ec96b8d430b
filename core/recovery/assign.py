"""Assign many recovery cases to one person at once (operators and above; one audit entry per case)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InputError
from core.governance import audit
from core.governance.auth import Actor, require_role
from core.models.base import utcnow
from core.models.recovery import RecoveryCase

MAX_ASSIGN = 500


def assign_cases(session: Session, actor: Actor, case_ids: Iterable[int], owner: str | None) -> int:
    """Set who works each case (an e-mail address; empty clears it); returns how many changed."""
    require_role(actor, "operator", "approver", "admin")
    ids = list(dict.fromkeys(int(i) for i in case_ids))
    if not ids:
        raise InputError("Select at least one case to assign.")
    if len(ids) > MAX_ASSIGN:
        raise InputError(f"Assign at most {MAX_ASSIGN} cases at once; select fewer.")
    who = (owner or "").strip().lower() or None
    if who is not None and ("@" not in who or any(c.isspace() for c in who) or len(who) > 255):
        raise InputError(f"{owner!r} is not an e-mail address; give the owner's e-mail.")
    changed = 0
    for case in session.scalars(select(RecoveryCase).where(RecoveryCase.id.in_(ids))):
        if case.assigned_to == who:
            continue
        before = {"assigned_to": case.assigned_to, "invoice": case.invoice_id}
        case.assigned_to, case.updated_at = who, utcnow()
        audit.record(
            session,
            actor,
            "recovery.assigned",
            f"recovery_case:{case.id}",
            before,
            {"assigned_to": who, "invoice": case.invoice_id},
        )
        changed += 1
    return changed
