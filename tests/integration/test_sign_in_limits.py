"""Brute force against sign-in: backoff, temporary locks per account and per source, the right
password refused while locked, one alert per lock, and the password policy. SQLite and PostgreSQL.

The clock is passed in (`now=`), so minutes of backoff and locks take no time to test.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.config import Settings
from core.errors import InputError, PermissionDenied
from core.governance import auth, sign_in
from core.governance.auth import SYSTEM_ACTOR
from core.models.governance import AuditEntry, OutboxMessage, SignInFailure
from tests.conftest import settings_for

GOOD = "correct horse battery staple"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return settings_for(db_url, TEAM_TIMEZONE="Europe/Berlin")


@pytest.fixture
def approver(Session: Any) -> None:
    with Session.begin() as s:
        auth.create_user(
            s, SYSTEM_ACTOR, "approver", "approver", password=GOOD, must_change_password=False
        )


def attempt(
    Session: Any, settings: Settings, name: str, password: str, at: datetime, **kw: Any
) -> str:
    """The refusal message, or "ok"."""
    try:
        sign_in.authenticate(Session, settings, name, password, now=at, **kw)
    except PermissionDenied as exc:
        return str(exc)
    return "ok"


def test_five_failures_lock_the_account_and_the_right_password_is_refused_until_it_ends(
    Session: Any, settings: Settings, approver: None
) -> None:
    at = T0
    answers = []
    for wait in (0, 2, 3, 5, 9):  # each try after the doubled wait (1, 2, 4, 8 s)
        at += timedelta(seconds=wait)
        answers.append(attempt(Session, settings, "approver", "wrong password 1", at))
    assert all(a.startswith("Wrong username or password") for a in answers)
    assert "now locked until 10:15 (Europe/Berlin)" in answers[-1]  # 09:00:19 UTC + 15 min

    refused = attempt(Session, settings, "approver", GOOD, at + timedelta(minutes=1))
    assert refused == (
        "This account is locked until 10:15 (Europe/Berlin) after 5 failed attempts; "
        "try again then, or ask an admin."
    )
    # Hammering a locked account does not extend the lock.
    for i in range(20):
        attempt(Session, settings, "approver", f"guess number {i}", at + timedelta(minutes=2))
    assert (
        attempt(Session, settings, "approver", GOOD, at + timedelta(minutes=15, seconds=1)) == "ok"
    )

    with Session() as s:
        reasons = [f.reason for f in s.scalars(select(SignInFailure).order_by(SignInFailure.id))]
        assert reasons == ["wrong_password"] * 5 + ["locked"] * 21
        alerts = list(s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "chat")))
        assert len(alerts) == 1 and "5 failed attempts on this account" in alerts[0].body
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions.count("sign_in.failed") == 26 and actions.count("sign_in.locked") == 1
        assert actions[-1] == "sign_in"


def test_retrying_before_the_doubled_wait_is_refused_and_counts(
    Session: Any, settings: Settings, approver: None
) -> None:
    def at(seconds: float) -> str:
        return attempt(Session, settings, "approver", GOOD, T0 + timedelta(seconds=seconds))

    wrong = attempt(Session, settings, "approver", "wrong password 1", T0)
    assert wrong.startswith("Wrong")  # one typo costs no wait
    wrong = attempt(Session, settings, "approver", "wrong password 1", T0 + timedelta(seconds=0.1))
    assert wrong.startswith("Wrong")
    assert at(0.5) == "Too many failed attempts: wait 1 second, then try again."
    assert at(1.0) == "Too many failed attempts: wait 2 seconds, then try again."  # doubled
    # The fifth failure locks the account, though only two passwords were ever checked.
    assert "This account is now locked until" in at(1.5)
    assert at(5).startswith("This account is locked until")


def test_a_success_clears_the_streak_and_a_quiet_window_forgets_it(
    Session: Any, settings: Settings, approver: None
) -> None:
    at = T0
    for wait in (0, 2, 3, 5):
        at += timedelta(seconds=wait)
        attempt(Session, settings, "approver", "wrong password 1", at)
    at += timedelta(seconds=9)
    assert attempt(Session, settings, "approver", GOOD, at) == "ok"
    for wait in (1, 2, 3, 5):  # four more failures after the success: no lock yet
        at += timedelta(seconds=wait)
        assert attempt(Session, settings, "approver", "wrong password 2", at).startswith("Wrong")
    at += timedelta(minutes=16)  # longer than the window: the streak is forgotten
    assert attempt(Session, settings, "approver", "wrong password 3", at).startswith("Wrong")
    assert attempt(Session, settings, "approver", GOOD, at + timedelta(seconds=1)) == "ok"


def test_unknown_names_are_locked_like_real_ones(Session: Any, settings: Settings) -> None:
    at = T0
    for wait in (0, 2, 3, 5, 9):
        at += timedelta(seconds=wait)
        attempt(Session, settings, "ghost", "wrong password 1", at)
    assert attempt(Session, settings, "ghost", GOOD, at + timedelta(seconds=30)).startswith(
        "This account is locked until"
    )


def test_one_source_spraying_many_accounts_is_locked_and_others_are_not(
    Session: Any, settings: Settings, approver: None
) -> None:
    at = T0
    spray = "203.0.113.9"
    answers = []
    for i in range(20):  # one try per name: no account ever reaches its own limit
        at += timedelta(minutes=1)
        answers.append(attempt(Session, settings, f"user{i}", "Summer2026!!", at, source=spray))
    assert all(a.startswith("Wrong") for a in answers[:5])
    assert "Your address is now locked until" in answers[-1]
    assert attempt(
        Session, settings, "approver", GOOD, at + timedelta(seconds=5), source=spray
    ) == (
        f"Sign-in from your address is locked until "
        f"{(at + timedelta(minutes=15)).astimezone(settings.tz):%H:%M} (Europe/Berlin) "
        "after 20 failed attempts; try again then."
    )
    assert attempt(Session, settings, "approver", GOOD, at, source="198.51.100.1") == "ok"
    with Session() as s:
        locks = sign_in.current_locks(s, settings, at + timedelta(seconds=5))
        assert [(lock.kind, lock.key, lock.failures) for lock in locks] == [("source", spray, 20)]
        alerts = list(s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "chat")))
        assert len(alerts) == 1 and "on your address" in alerts[0].body


def test_the_loopback_address_is_not_locked_as_a_source(Session: Any, settings: Settings) -> None:
    at = T0
    for i in range(25):
        at += timedelta(minutes=1)
        assert attempt(
            Session, settings, f"user{i}", "Summer2026!!", at, source=sign_in.LOCAL_SOURCE
        ).startswith("Wrong")


def test_limits_come_from_the_settings(Session: Any, db_url: str, approver: None) -> None:
    settings = settings_for(
        db_url, SIGN_IN_LOCK_AFTER="2", SIGN_IN_LOCK_MINUTES="1", SIGN_IN_BACKOFF_SECONDS="0.5"
    )
    attempt(Session, settings, "approver", "wrong password 1", T0)
    second = attempt(Session, settings, "approver", "wrong password 1", T0 + timedelta(seconds=1))
    assert "now locked until" in second
    assert "locked until" in attempt(
        Session, settings, "approver", GOOD, T0 + timedelta(seconds=30)
    )
    assert attempt(Session, settings, "approver", GOOD, T0 + timedelta(seconds=62)) == "ok"


@pytest.mark.parametrize(
    ("template", "fix"),
    [
        ("aaaaaaaaaaaa", "too easy to guess: repeats like"),
        ("password1234", "too easy to guess: this is a very common password"),
        (" " * 12, "too easy to guess: repeats like"),
        ("{name}{name}", "built from your name, username or e-mail"),
        ("{Name}.{Name}!", "built from your name, username or e-mail"),
        ("short", "at least 12 characters"),
        ("x" * 1_000_000, "at most 256 characters"),
    ],
)
def test_weak_passwords_are_refused_everywhere_a_password_is_set(
    Session: Any, settings: Settings, approver: None, template: str, fix: str
) -> None:
    def weak(name: str) -> str:
        return template.replace("{name}", name).replace("{Name}", name.capitalize())

    with Session.begin() as s, pytest.raises(InputError, match=fix) as refused:
        auth.create_user(s, SYSTEM_ACTOR, "quentin", "viewer", password=weak("quentin"))
    assert len(str(refused.value)) < 300  # one line that says what to fix
    actor = sign_in.authenticate(Session, settings, "approver", GOOD)
    started = time.monotonic()
    with Session.begin() as s, pytest.raises(InputError, match=fix):
        auth.change_password(s, actor, GOOD, weak("approver"))
    assert time.monotonic() - started < 2  # a 1 MB password is refused before any hashing


def test_generated_and_demo_passwords_meet_the_policy(Session: Any) -> None:
    for _ in range(200):
        auth.check_password(auth.generate_password())
    with Session.begin() as s:
        created = auth.ensure_demo_users(s)
    for username, _, password in created:
        auth.check_password(password, (username,))
    with Session.begin() as s:
        password = auth.reset_password(s, SYSTEM_ACTOR, "approver")
    auth.check_password(password, ("approver",))


def test_the_email_counts_as_the_users_own_words(Session: Any) -> None:
    with Session.begin() as s, pytest.raises(InputError, match="built from your name"):
        auth.create_user(
            s,
            SYSTEM_ACTOR,
            "kim",
            "viewer",
            email="quartermaster@example.com",
            password="quartermaster2026",
        )
