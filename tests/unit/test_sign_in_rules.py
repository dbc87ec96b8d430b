"""The backoff and lock rules (pure) and the sign-in and session settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import ConfigError
from core.governance.lockout import Limits, assess

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIMITS = Limits(
    lock_after=5,
    window=timedelta(minutes=15),
    lock_for=timedelta(minutes=15),
    backoff=timedelta(seconds=1),
    free=1,
)


def s(*seconds: float) -> list[datetime]:
    return [T0 + timedelta(seconds=x) for x in seconds]


def test_a_typo_is_free_then_the_wait_doubles_with_each_failure() -> None:
    assert assess(s(0), T0, LIMITS).retry_at is None
    for failures, wait in ((s(0, 1), 1), (s(0, 1, 3), 2), (s(0, 1, 3, 7), 4)):
        verdict = assess(failures, failures[-1], LIMITS)
        assert verdict.retry_at == failures[-1] + timedelta(seconds=wait)
        assert not verdict.locked(failures[-1])


def test_the_fifth_failure_locks_for_the_lock_time_then_it_ends() -> None:
    failures = s(0, 1, 3, 7, 15)
    verdict = assess(failures, failures[-1], LIMITS)
    assert verdict.locked_until == failures[-1] + timedelta(minutes=15)
    assert verdict.lock_started_at == failures[-1] and verdict.lock_failures == 5
    later = failures[-1] + timedelta(minutes=15)
    assert not assess(failures, later, LIMITS).locked(later)
    assert assess(failures, later, LIMITS).retry_at is None  # a fresh start after a lock


def test_failures_further_apart_than_the_window_start_a_new_streak() -> None:
    failures = s(0, 1000, 2000, 3000, 4000)  # > 15 minutes between each
    assert assess(failures, T0 + timedelta(seconds=4000), LIMITS).streak == 1


def test_attempts_during_a_lock_do_not_extend_it() -> None:
    failures = s(0, 1, 3, 7, 15, 60, 120, 600)
    assert assess(failures, T0 + timedelta(seconds=700), LIMITS).locked_until == T0 + timedelta(
        seconds=15, minutes=15
    )


def test_free_failures_wait_for_nothing() -> None:
    limits = Limits(20, timedelta(minutes=15), timedelta(minutes=15), timedelta(seconds=1), free=5)
    assert assess(s(0, 1, 2, 3, 4), T0 + timedelta(seconds=4), limits).retry_at is None
    six = s(0, 1, 2, 3, 4, 5)
    assert assess(six, six[-1], limits).retry_at == six[-1] + timedelta(seconds=1)


def env(**values: str) -> dict[str, str]:
    return {"LEDGERDESK_DATA_DIR": "/tmp/ledgerdesk-test", **values}


def test_sign_in_and_session_settings_have_sensible_defaults_and_can_be_set() -> None:
    default = load_settings(env(), secrets_file=Path("/nonexistent"))
    assert (default.sign_in_lock_after, default.sign_in_lock_minutes) == (5, 15.0)
    assert (default.session_idle_minutes, default.session_max_hours) == (30.0, 12.0)
    assert default.sign_in_source_lock_after == 20 and default.sign_in_backoff_seconds == 1.0
    custom = load_settings(
        env(SIGN_IN_LOCK_AFTER="3", SESSION_IDLE_MINUTES="0.5", SESSION_MAX_HOURS="8"),
        secrets_file=Path("/nonexistent"),
    )
    assert (custom.sign_in_lock_after, custom.session_idle_minutes) == (3, 0.5)
    assert custom.session_max_hours == 8.0


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SIGN_IN_LOCK_AFTER", "0"),
        ("SIGN_IN_LOCK_AFTER", "2.5"),
        ("SIGN_IN_LOCK_MINUTES", "nan"),
        ("SESSION_IDLE_MINUTES", "inf"),
        ("SESSION_MAX_HOURS", "-1"),
        ("SIGN_IN_BACKOFF_SECONDS", "soon"),
    ],
)
def test_bad_sign_in_settings_name_themselves(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(env(**{name: raw}), secrets_file=Path("/nonexistent"))
