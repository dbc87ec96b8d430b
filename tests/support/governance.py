"""Factories for governance tests: users with known passwords, and action requests."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from core.governance import audit
from core.governance.actions import request_action
from core.governance.auth import SYSTEM_ACTOR, Actor, hash_password
from core.models.governance import ActionRequest, User

PASSWORD = "correct horse battery staple"


@lru_cache(maxsize=1)
def _password_hash() -> str:
    # argon2 is slow on purpose; hash the shared test password once per test run.
    return hash_password(PASSWORD)


def make_user(session: Session, username: str, role: str, *, email: str | None = None) -> Actor:
    """A user with the known test PASSWORD (no forced change), as an Actor."""
    user = User(
        username=username,
        role=role,
        email=email,
        password_hash=_password_hash(),
        active=True,
        must_change_password=False,
    )
    session.add(user)
    session.flush()
    audit.record(session, SYSTEM_ACTOR, "user.created", f"user:{username}", None, {"role": role})
    return Actor(user_id=user.id, username=user.username, role=user.role)


def make_team(session: Session) -> dict[str, Actor]:
    """One user per role plus a second approver: keys operator, approver, approver2, admin, viewer."""
    roles = {
        "operator": "operator",
        "approver": "approver",
        "approver2": "approver",
        "admin": "admin",
        "viewer": "viewer",
    }
    return {name: make_user(session, name, role) for name, role in roles.items()}


def make_refund_request(
    session: Session,
    requester: Actor,
    charge_id: str = "ch_test_1",
    amount: int = 2500,
    **extra: Any,
) -> ActionRequest:
    """A refund request on `charge_id` for `amount` cents (USD)."""
    return request_action(
        session,
        requester,
        action_type="refund",
        target_id=charge_id,
        params={
            "charge": charge_id,
            "amount": amount,
            "currency": "usd",
            **extra.pop("params", {}),
        },
        reason=extra.pop("reason", "customer asked for a refund"),
        evidence=extra.pop(
            "evidence", {"amount": amount, "currency": "usd", "customer_value": 120000}
        ),
        **extra,
    )
