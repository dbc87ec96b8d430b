"""Local accounts: argon2id hashes, sign-in (audited), roles, disabling, demo users, SSO mapping.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.config import Settings
from core.errors import InputError, PermissionDenied
from core.governance import audit, auth, sign_in
from core.governance.auth import SYSTEM_ACTOR, Actor
from core.models.governance import AuditEntry, SignInFailure, User
from tests.conftest import settings_for


@pytest.fixture
def settings(db_url: str) -> Settings:
    return settings_for(db_url)


def test_passwords_are_salted_argon2_and_sign_in_is_audited(
    Session: Any, settings: Settings
) -> None:
    with Session.begin() as s:
        user, password = auth.create_user(
            s, SYSTEM_ACTOR, "Pat", "approver", email="Pat@Example.com"
        )
        assert password and len(password) >= 12
        assert user.username == "pat" and user.password_hash.startswith("$argon2id$")
        assert password not in repr(user) and user.password_hash not in repr(user)
    actor = sign_in.authenticate(Session, settings, "pat", password, source="198.51.100.7")
    assert actor == Actor(user.id, "pat", "approver")
    with Session.begin() as s:
        assert auth.needs_password_change(s, actor)
        auth.change_password(s, actor, password, "a much better passphrase")
    # No transaction around the call: the refusal must commit its own record before raising.
    with pytest.raises(PermissionDenied, match="Wrong username or password"):
        sign_in.authenticate(Session, settings, "pat", password, source="198.51.100.7")
    with Session() as s:  # a fresh session sees the failure that survived the raised error
        failure = s.scalars(select(SignInFailure)).one()
        assert (failure.username, failure.source, failure.reason, failure.via) == (
            "pat",
            "198.51.100.7",
            "wrong_password",
            "password",
        )
        assert failure.at.tzinfo is not None
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == [
            "user.created",
            "sign_in",
            "user.password_changed",
            "sign_in.failed",
        ]
        assert audit.verify(s).ok


def test_unknown_users_disabled_users_and_short_passwords_are_refused(
    Session: Any, settings: Settings
) -> None:
    with Session.begin() as s:
        auth.create_user(
            s,
            SYSTEM_ACTOR,
            "sam",
            "viewer",
            password="twelve chars!",
            must_change_password=False,
        )
        with pytest.raises(InputError, match="12"):
            auth.create_user(s, SYSTEM_ACTOR, "kim", "viewer", password="short")
        with pytest.raises(InputError, match="already exists"):
            auth.create_user(s, SYSTEM_ACTOR, "sam", "viewer")
    with pytest.raises(PermissionDenied, match="Wrong username or password"):
        sign_in.authenticate(Session, settings, "nobody", "whatever-password")
    with Session.begin() as s:
        auth.set_active(s, SYSTEM_ACTOR, "sam", False)
    with pytest.raises(PermissionDenied, match="Wrong username or password"):
        sign_in.authenticate(Session, settings, "sam", "twelve chars!")
    with Session() as s:
        user = s.scalar(select(User).where(User.username == "sam"))
        assert auth.current_actor(s, user.id) is None  # a signed-in session ends at once
        reasons = [(f.username, f.reason) for f in s.scalars(select(SignInFailure))]
        assert reasons == [("nobody", "unknown_user"), ("sam", "disabled")]


def test_only_admins_manage_users(Session: Any) -> None:
    with Session.begin() as s:
        admin_user, _ = auth.create_user(
            s, SYSTEM_ACTOR, "root", "admin", password="admin password 1"
        )
        op_user, _ = auth.create_user(
            s, SYSTEM_ACTOR, "ops", "operator", password="operator pass 1"
        )
    admin = Actor(admin_user.id, "root", "admin")
    operator = Actor(op_user.id, "ops", "operator")
    with Session.begin() as s, pytest.raises(PermissionDenied):
        auth.set_role(s, operator, "ops", "admin")
    with Session.begin() as s:
        assert auth.set_role(s, admin, "ops", "approver").role == "approver"
        with pytest.raises(InputError, match="your own"):
            auth.set_active(s, admin, "root", False)
        with pytest.raises(InputError, match="Unknown role"):
            auth.set_role(s, admin, "ops", "god")


def test_demo_users_are_created_once_with_one_time_passwords(Session: Any) -> None:
    with Session.begin() as s:
        created = auth.ensure_demo_users(s)
    assert [(u, r) for u, r, _ in created] == [
        ("operator", "operator"),
        ("approver", "approver"),
        ("approver2", "approver"),
        ("admin", "admin"),
        ("viewer", "viewer"),
    ]
    assert all(len(p) >= 12 for _, _, p in created) and len({p for _, _, p in created}) == 5
    with Session.begin() as s:
        assert auth.ensure_demo_users(s) == []
        assert all(u.must_change_password for u in auth.list_users(s))


def test_single_sign_on_maps_known_emails_and_refuses_others(
    Session: Any, settings: Settings
) -> None:
    with Session.begin() as s:
        auth.create_user(
            s,
            SYSTEM_ACTOR,
            "lee",
            "approver",
            email="lee@example.com",
            password="lee password 12",
        )
    assert sign_in.sign_in_by_email(Session, settings, "LEE@example.com").username == "lee"
    with pytest.raises(PermissionDenied, match="no active Ledgerdesk account"):
        sign_in.sign_in_by_email(Session, settings, "stranger@example.com", source="192.0.2.1")
    with Session() as s:
        failure = s.scalars(select(SignInFailure)).one()
        assert (failure.username, failure.via, failure.reason, failure.source) == (
            "stranger@example.com",
            "sso",
            "unknown_email",
            "192.0.2.1",
        )
