"""Backoff and temporary locks after failed sign-ins: plain times in, a verdict out.

For one key (an account, or a source address) the failures counted are those since the last
successful sign-in. Each failure within `window` of the one before it extends a streak; the
`lock_after`-th failure of a streak locks the key for `lock_for` and starts a new streak. Before
that, the wait before the next attempt doubles with each failure beyond the first `free` ones
(`backoff`, 2 × `backoff`, 4 × …, never longer than a lock). Attempts refused while locked are
not counted, so hammering a locked account does not extend its lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Limits:
    """How many failures a key may have, how fast, and for how long it is then locked."""

    lock_after: int
    window: timedelta
    lock_for: timedelta
    backoff: timedelta
    free: int = 0


@dataclass(frozen=True)
class Verdict:
    """Whether a key may try again now, and if not, until when."""

    streak: int = 0
    locked_until: datetime | None = None
    lock_started_at: datetime | None = None
    lock_failures: int = 0
    retry_at: datetime | None = None

    def locked(self, now: datetime) -> bool:
        """True while a lock holds."""
        return self.locked_until is not None and now < self.locked_until

    def waiting(self, now: datetime) -> bool:
        """True while the backoff delay after the last failure runs."""
        return self.retry_at is not None and now < self.retry_at


def assess(failures: Sequence[datetime], now: datetime, limits: Limits) -> Verdict:
    """The verdict for a key with these counted failure times (any order)."""
    streak: list[datetime] = []
    locked_until: datetime | None = None
    started: datetime | None = None
    lock_failures = 0
    for at in sorted(failures):
        if locked_until is not None and at < locked_until:
            continue  # refused while locked; not counted
        if streak and at - streak[-1] > limits.window:
            streak = []
        streak.append(at)
        if len(streak) >= limits.lock_after:
            locked_until, started, lock_failures = at + limits.lock_for, at, len(streak)
            streak = []
    if locked_until is not None and now >= locked_until:
        locked_until = None  # expired; keep `started` so a caller can tell a lock just began
    if streak and now - streak[-1] > limits.window:
        streak = []
    retry_at = None
    beyond = len(streak) - limits.free
    if beyond > 0:
        delay = min(limits.backoff * 2 ** (beyond - 1), limits.lock_for)
        retry_at = streak[-1] + delay
    return Verdict(len(streak), locked_until, started, lock_failures, retry_at)
