"""Signing in: password and single sign-on, with failures recorded, backoff, locks and alerts.

Sign-in is its own unit of work, so it takes the session factory rather than a session: every
refusal is committed in its own transaction (a `sign_in_failures` row and a `sign_in.failed`
audit entry) before the refusal is raised, and the password is verified outside any transaction.
Locks are checked before the password, so the right password is refused while a lock holds; the
rules are in core/governance/lockout.py. A lock that starts queues one chat alert for the team.
Accounts that do not exist are throttled and locked exactly like real ones, so the answers never
tell which usernames exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.adapters.outbox import enqueue_chat
from core.config import Settings
from core.errors import PermissionDenied
from core.governance import audit, lockout
from core.governance.auth import Actor
from core.governance.passwords import MAX_PASSWORD_LENGTH, hasher
from core.models.base import utcnow
from core.models.governance import SignInFailure, User

LOCAL_SOURCE = "local"  # the loopback address (or a reverse proxy on this host): not limited
WRONG = "Wrong username or password, or the account is disabled."
_DUMMY_HASH = hasher.hash("not-a-real-password-" + "x" * 16)  # verified for unknown usernames


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before its password is even checked."""

    reason: str  # "locked" or "too_soon"
    message: str


def account_limits(settings: Settings) -> lockout.Limits:
    """A typo is free; backoff from the second failure; locked at SIGN_IN_LOCK_AFTER."""
    return lockout.Limits(
        lock_after=settings.sign_in_lock_after,
        window=timedelta(minutes=settings.sign_in_window_minutes),
        lock_for=timedelta(minutes=settings.sign_in_lock_minutes),
        backoff=timedelta(seconds=settings.sign_in_backoff_seconds),
        free=1,
    )


def source_limits(settings: Settings) -> lockout.Limits:
    """Backoff once a source has failed as often as locks one account; locked at its own limit."""
    return lockout.Limits(
        lock_after=settings.sign_in_source_lock_after,
        window=timedelta(minutes=settings.sign_in_window_minutes),
        lock_for=timedelta(minutes=settings.sign_in_lock_minutes),
        backoff=timedelta(seconds=settings.sign_in_backoff_seconds),
        free=min(settings.sign_in_lock_after, settings.sign_in_source_lock_after - 1),
    )


def _failure_times(
    session: Session, limits: lockout.Limits, now: datetime, *, username: str = "", source: str = ""
) -> list[datetime]:
    lookback = limits.lock_for + limits.window * limits.lock_after
    since = now - lookback
    query = select(SignInFailure.at).where(
        SignInFailure.at > since, SignInFailure.at <= now, SignInFailure.reason != "locked"
    )
    if username:
        user_since = session.scalar(select(User.last_sign_in_at).where(User.username == username))
        if user_since is not None and user_since > since:
            query = query.where(SignInFailure.at > user_since)
        query = query.where(SignInFailure.username == username)
    else:
        query = query.where(SignInFailure.source == source)
    return list(session.scalars(query))


def _limited(source: str) -> bool:
    return bool(source) and source != LOCAL_SOURCE


def _clock(settings: Settings, at: datetime) -> str:
    return f"{at.astimezone(settings.tz):%H:%M} ({settings.team_timezone})"


def refusal(
    session: Session, settings: Settings, username: str, source: str, now: datetime
) -> Refusal | None:
    """Why an attempt on `username` from `source` may not be checked now, or None."""
    acct = lockout.assess(
        _failure_times(session, account_limits(settings), now, username=username),
        now,
        account_limits(settings),
    )
    if acct.locked(now) and acct.locked_until:
        return Refusal(
            "locked",
            f"This account is locked until {_clock(settings, acct.locked_until)} after "
            f"{acct.lock_failures} failed attempts; try again then, or ask an admin.",
        )
    src = lockout.Verdict()
    if _limited(source):
        src = lockout.assess(
            _failure_times(session, source_limits(settings), now, source=source),
            now,
            source_limits(settings),
        )
        if src.locked(now) and src.locked_until:
            return Refusal(
                "locked",
                f"Sign-in from your address is locked until {_clock(settings, src.locked_until)} "
                f"after {src.lock_failures} failed attempts; try again then.",
            )
    waits = [v.retry_at for v in (acct, src) if v.retry_at is not None and v.waiting(now)]
    if waits:
        seconds = math.ceil((max(waits) - now).total_seconds())
        return Refusal(
            "too_soon",
            f"Too many failed attempts: wait {seconds} second{'s' if seconds != 1 else ''}, "
            "then try again.",
        )
    return None


def _alert(
    session: Session,
    settings: Settings,
    what: str,
    key: str,
    verdict: lockout.Verdict,
    now: datetime,
) -> str:
    """Audit and announce a lock that starts now; returns the sentence for the person refused."""
    until = verdict.locked_until or now
    audit.record(
        session,
        Actor(None, "system", "system"),
        "sign_in.locked",
        key[:255],
        None,
        {"until": until.isoformat(), "failures": verdict.lock_failures},
    )
    enqueue_chat(
        session,
        f"Sign-in locked: {verdict.lock_failures} failed attempts on {what} within "
        f"{settings.sign_in_window_minutes:g} minutes; locked until {_clock(settings, until)}. "
        "If nobody on the team expects this, someone may be guessing passwords.",
        f"sign-in-lock:{key}:{now.isoformat()}",
    )
    return (
        f"{what[0].upper()}{what[1:]} is now locked until {_clock(settings, until)} "
        f"after {verdict.lock_failures} failed attempts."
    )


def record_failure(
    session: Session,
    settings: Settings,
    username: str,
    source: str,
    via: str,
    reason: str,
    now: datetime,
) -> list[str]:
    """Store one refused attempt (and audit it); start locks and alerts it completes."""
    session.add(SignInFailure(at=now, username=username, source=source, via=via, reason=reason))
    audit.record(
        session,
        Actor(None, username or "?", "anonymous"),
        "sign_in.failed",
        f"user:{username}",
        None,
        {"via": via, "source": source, "reason": reason},
    )
    if reason == "locked":
        return []
    session.flush()
    notes: list[str] = []
    limits = account_limits(settings)
    acct = lockout.assess(_failure_times(session, limits, now, username=username), now, limits)
    if acct.lock_started_at == now and acct.locked(now):
        notes.append(_alert(session, settings, "this account", f"user:{username}", acct, now))
    if _limited(source):
        limits = source_limits(settings)
        src = lockout.assess(_failure_times(session, limits, now, source=source), now, limits)
        if src.lock_started_at == now and src.locked(now):
            notes.append(_alert(session, settings, "your address", f"source:{source}", src, now))
    return notes


def _verify(stored: str | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False  # no password that long was ever accepted; do not spend the hash on it
    try:
        return bool(hasher.verify(stored or _DUMMY_HASH, password)) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(
    sessions: sessionmaker[Session],
    settings: Settings,
    username: str,
    password: str,
    *,
    source: str = "",
    via: str = "password",
    now: datetime | None = None,
) -> Actor:
    """Check a username and password; record any refusal in its own transaction; the Actor."""
    name, source, now = username.strip().lower()[:80], source[:64], now or utcnow()
    with sessions.begin() as session:
        refused, notes = refusal(session, settings, name, source, now), []
        if refused is not None:
            notes = record_failure(session, settings, name, source, via, refused.reason, now)
        user = session.scalar(select(User).where(User.username == name))
        stored, user_id = (user.password_hash, user.id) if user else (None, None)
        active = bool(user and user.active)
    if refused is not None:
        # A refusal that completes a lock says so instead of asking to wait a few seconds.
        raise PermissionDenied(" ".join(notes) if notes else refused.message)
    ok = _verify(stored, password)
    reason = (
        "unknown_user"
        if user_id is None
        else "no_password"
        if stored is None
        else "wrong_password"
        if not ok
        else "disabled"
        if not active
        else None
    )
    with sessions.begin() as session:
        if reason is not None:
            notes = record_failure(session, settings, name, source, via, reason, now)
        else:
            user = session.get(User, user_id)
            assert user is not None and user.password_hash
            if hasher.check_needs_rehash(user.password_hash):
                user.password_hash = hasher.hash(password)
            actor = signed_in(session, user, via, source, now)
    if reason is not None:
        raise PermissionDenied(" ".join([WRONG, *notes]))
    return actor


def signed_in(session: Session, user: User, via: str, source: str, now: datetime) -> Actor:
    """Note a successful sign-in (which also clears the account's failure streak)."""
    user.last_sign_in_at = now
    actor = Actor(user_id=user.id, username=user.username, role=user.role)
    audit.record(
        session, actor, "sign_in", f"user:{user.username}", None, {"via": via, "source": source}
    )
    return actor


def sign_in_by_email(
    sessions: sessionmaker[Session],
    settings: Settings,
    email: str,
    *,
    source: str = "",
    now: datetime | None = None,
) -> Actor:
    """Single sign-on: map a verified email to an active local user (unknown emails refused)."""
    address, now = email.strip().lower(), now or utcnow()
    with sessions.begin() as session:
        user = session.scalar(select(User).where(User.email == address))
        if user is not None and user.active:
            return signed_in(session, user, "sso", source[:64], now)
    with sessions.begin() as session:
        reason = "unknown_email" if user is None else "disabled"
        record_failure(session, settings, address[:80], source[:64], "sso", reason, now)
    raise PermissionDenied(
        f"{email} has no active Ledgerdesk account. Ask an admin to run "
        f"`python -m jobs users add <name> --role viewer --email {email}`."
    )


def recent_failures(session: Session, since: datetime, limit: int = 200) -> list[SignInFailure]:
    """Refused sign-ins since `since`, newest first."""
    return list(
        session.scalars(
            select(SignInFailure)
            .where(SignInFailure.at >= since)
            .order_by(SignInFailure.at.desc(), SignInFailure.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Lock:
    """An account or a source address that may not sign in until `until`."""

    kind: str  # "account" or "source"
    key: str
    until: datetime
    failures: int


def current_locks(session: Session, settings: Settings, now: datetime | None = None) -> list[Lock]:
    """Accounts and sources locked right now (from the refusals of the last few hours)."""
    now = now or utcnow()
    out: list[Lock] = []
    for kind, limits, column in (
        ("account", account_limits(settings), SignInFailure.username),
        ("source", source_limits(settings), SignInFailure.source),
    ):
        since = now - limits.lock_for - limits.window * limits.lock_after
        keys = session.scalars(
            select(column)
            .where(SignInFailure.at > since, SignInFailure.reason != "locked")
            .distinct()
        )
        for key in keys:
            if kind == "source" and not _limited(key):
                continue
            by = {"username": key} if kind == "account" else {"source": key}
            verdict = lockout.assess(_failure_times(session, limits, now, **by), now, limits)
            if verdict.locked(now) and verdict.locked_until:
                out.append(Lock(kind, key, verdict.locked_until, verdict.lock_failures))
    return sorted(out, key=lambda lock: lock.until)
