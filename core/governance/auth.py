"""Users and roles: argon2id password hashes, the `Actor` every service is called
with, and the role checks that every core service performs itself (never only the UI).

Roles are ordered viewer < operator < approver < admin; a higher role may do whatever a lower
one may. `SYSTEM_ACTOR` is the scheduler and the CLI jobs: it may request and execute actions,
never approve them. Signing in is core/governance/sign_in.py; the password policy is
core/governance/passwords.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InputError, NotFound, PermissionDenied
from core.governance import audit
from core.governance.passwords import (
    MIN_PASSWORD_LENGTH,
    check_password,
    generate_password,
    hash_password,
    hasher,
)
from core.models.governance import User

__all__ = [  # the password policy lives in core/governance/passwords.py
    "MIN_PASSWORD_LENGTH",
    "check_password",
    "generate_password",
    "hash_password",
]


class Role(StrEnum):
    """What a signed-in person may do."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"


ROLE_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.APPROVER: 2, Role.ADMIN: 3}
DEMO_USERS = (
    ("operator", Role.OPERATOR),
    ("approver", Role.APPROVER),
    ("approver2", Role.APPROVER),
    ("admin", Role.ADMIN),
    ("viewer", Role.VIEWER),
)
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,79}$")


@dataclass(frozen=True)
class Actor:
    """Who is doing something: a signed-in user, or the system (user_id None)."""

    user_id: int | None
    username: str
    role: str

    @property
    def is_system(self) -> bool:
        """True for the scheduler and CLI jobs."""
        return self.user_id is None and self.role == "system"


SYSTEM_ACTOR = Actor(user_id=None, username="system", role="system")


def has_role(actor: Actor, *roles: str) -> bool:
    """Whether the actor holds one of `roles`, or a role ranked above the lowest of them."""
    if actor.role in roles:
        return True
    if actor.role not in ROLE_RANK:
        return False
    ranks = [ROLE_RANK[Role(r)] for r in roles if r in ROLE_RANK]
    return bool(ranks) and ROLE_RANK[Role(actor.role)] >= min(ranks)


def require_role(actor: Actor, *roles: str) -> None:
    """Raise PermissionDenied unless `has_role(actor, *roles)`."""
    if not has_role(actor, *roles):
        raise PermissionDenied(
            f"Your role ({actor.role}) may not do this; it needs {' or '.join(roles)}. "
            "Ask an admin if you need access."
        )


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InputError(f"Unknown role {role!r}: use one of {', '.join(Role)}.") from None


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, username=user.username, role=user.role)


def get_user(session: Session, username: str) -> User:
    """The user named `username`, or NotFound."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user named {username!r}: list them with `python -m jobs users list`.")
    return user


def list_users(session: Session) -> list[User]:
    """All users, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def create_user(
    session: Session,
    actor: Actor,
    username: str,
    role: str,
    *,
    email: str | None = None,
    password: str | None = None,
    must_change_password: bool = True,
) -> tuple[User, str | None]:
    """Create a user; returns it and the generated one-time password (None if one was given)."""
    if not actor.is_system:
        require_role(actor, Role.ADMIN)
    name = username.strip().lower()
    if not _USERNAME_RE.match(name):
        raise InputError(
            f"Username {username!r} is not valid: 2-80 lower-case letters, digits, . _ @ or -."
        )
    if session.scalar(select(func.count()).where(User.username == name)):
        raise InputError(f"A user named {name!r} already exists.")
    if email and session.scalar(select(func.count()).where(User.email == email.lower())):
        raise InputError(f"Another user already has the email {email!r}.")
    generated = None if password is not None else generate_password()
    user = User(
        username=name,
        email=email.lower() if email else None,
        role=_check_role(role).value,
        password_hash=hash_password(
            password if password is not None else generated or "", (name, email)
        ),
        active=True,
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.created",
        f"user:{name}",
        None,
        {"role": user.role, "email": user.email},
    )
    return user, generated


def set_role(session: Session, actor: Actor, username: str, role: str) -> User:
    """Change a user's role (admins only)."""
    if not actor.is_system:
        require_role(actor, Role.ADMIN)
    user = get_user(session, username)
    before = {"role": user.role}
    user.role = _check_role(role).value
    audit.record(
        session,
        actor,
        "user.role_changed",
        f"user:{user.username}",
        before,
        {"role": user.role},
    )
    return user


def set_active(session: Session, actor: Actor, username: str, active: bool) -> User:
    """Disable (or re-enable) a user; a disabled user cannot sign in."""
    if not actor.is_system:
        require_role(actor, Role.ADMIN)
    if actor.username == username.strip().lower() and not active:
        raise InputError("You cannot disable your own account; ask another admin.")
    user = get_user(session, username)
    before = {"active": user.active}
    user.active = active
    audit.record(
        session,
        actor,
        "user.enabled" if active else "user.disabled",
        f"user:{user.username}",
        before,
        {"active": active},
    )
    return user


def reset_password(session: Session, actor: Actor, username: str) -> str:
    """Give a user a new one-time password (they must change it at the next sign-in)."""
    if not actor.is_system:
        require_role(actor, Role.ADMIN)
    user = get_user(session, username)
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    audit.record(session, actor, "user.password_reset", f"user:{user.username}", None, None)
    return password


def current_actor(session: Session, user_id: int) -> Actor | None:
    """The actor for a signed-in session, re-read so a disabled user or new role applies at once."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return _actor(user)


def needs_password_change(session: Session, actor: Actor) -> bool:
    """Whether the user still signs in with a one-time password."""
    user = session.get(User, actor.user_id) if actor.user_id else None
    return bool(user and user.must_change_password)


def change_password(session: Session, actor: Actor, old: str, new: str) -> None:
    """Replace the signed-in user's password after checking the old one."""
    user = session.get(User, actor.user_id) if actor.user_id else None
    if user is None or not user.password_hash:
        raise PermissionDenied("This account has no password to change.")
    try:
        hasher.verify(user.password_hash, old)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise PermissionDenied("The current password is wrong.") from None
    if new == old:
        raise InputError("Choose a new password different from the current one.")
    user.password_hash = hash_password(new, (user.username, user.email, user.display_name))
    user.must_change_password = False
    audit.record(session, actor, "user.password_changed", f"user:{user.username}", None, None)


def ensure_demo_users(session: Session) -> list[tuple[str, str, str]]:
    """Create the sandbox demo users that are missing; return (username, role, one-time password)."""
    created: list[tuple[str, str, str]] = []
    for username, role in DEMO_USERS:
        if session.scalar(select(func.count()).where(User.username == username)):
            continue
        _, password = create_user(session, SYSTEM_ACTOR, username, role, must_change_password=True)
        created.append((username, role.value, password or ""))
    return created
