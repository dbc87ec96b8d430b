"""Request pacing and retries for Stripe calls: a token bucket and backoff with full jitter.

The StripeClient is built with `max_network_retries=0` so this module alone decides: 429 and
5xx/timeouts are retried with capped exponential backoff and full jitter, a `Stripe-Should-Retry`
header is obeyed either way, and authentication or permission errors are raised at once (the
caller stops that account and shows why). A request Stripe refuses as malformed (400, 404) is
never retried: asking again cannot change the answer. Clock, sleep and randomness are injected
for tests.

The bucket adapts to the server (additive increase, multiplicative decrease): every 429 halves
the rate it paces at, down to `floor`; every success gives back 2 % of it, so after a burst
of 429s the rate climbs back to the configured one over tens of seconds instead of at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import StripeError

T = TypeVar("T")


class TokenBucket:
    """Thread-safe pacing: at most `rate` acquisitions per second, bursts up to `burst`.

    `rate` moves between `floor` and the configured `ceiling`: `slow_down()` halves it (on a
    429), `speed_up()` raises it by `recovery` (2 %) of itself (on a success), so climbing back
    from half the server's limit takes dozens of successes, not two.
    """

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        floor: float | None = None,
        recovery: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0 or rate == float("inf"):
            raise ValueError("rate must be a positive number")
        self.rate = rate
        self.ceiling = rate
        self.floor = min(rate, floor if floor is not None else max(0.5, rate / 32))
        self.recovery = recovery
        self.burst = max(1.0, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()
        self._turn = threading.Lock()  # unqueued callers ask one at a time

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        """Wait until one more request fits under the rate."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)

    def try_reserve(self, max_wait: float) -> float:
        """Take one token only if it can be used within `max_wait` seconds: return its wait
        (>= 0); otherwise take nothing and return minus how long until one would fit."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            after = self._tokens - 1.0
            if after < -max_wait * self.rate:
                return -max(1e-3, (-after / self.rate) - max_wait)
            self._tokens = after
            return 0.0 if after >= 0 else -after / self.rate

    def acquire_unqueued(self, slots: float = 2.0) -> None:
        """Like `acquire`, but never reserve more than `slots` requests ahead of now: whoever
        calls `acquire` meanwhile is served first (a caller on the critical path).

        Unqueued callers take turns at asking: one waits for a slot to come within reach, the
        others wait behind it on a lock. Dozens of them each waking to ask on every slot cost
        the process a tenth of a CPU at 100 requests/s, CPU its fetching needed."""
        with self._turn:
            while True:
                wait = self.try_reserve(slots / self.rate)
                if wait >= 0:
                    break
                self._sleep(-wait)  # until a slot is within reach (a queued caller may take it)
        if wait > 0:
            self._sleep(wait)

    def slow_down(self) -> None:
        """The server said 429: halve the pace (not below the floor) and drop saved-up burst."""
        with self._lock:
            self.rate = max(self.floor, self.rate / 2)
            self._tokens = min(self._tokens, 0.0)

    def speed_up(self) -> None:
        """A request went through: take back a small step towards the configured rate."""
        if self.rate < self.ceiling:
            with self._lock:
                self.rate = min(self.ceiling, self.rate * (1.0 + self.recovery))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to back off: delay = uniform(0, min(cap, base * 2**attempt))."""

    max_attempts: int = 8
    base: float = 0.5
    cap: float = 20.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter delay before retry number `attempt` (0-based)."""
        return rng.uniform(0, min(self.cap, self.base * (2**attempt)))


def should_retry(exc: StripeError) -> bool:
    """Retry when Stripe says so, never when it says not to, else by the error's kind; a
    request refused as malformed or naming nothing (400, 404) is never asked again."""
    if exc.http_status in (400, 404):
        return False
    if exc.should_retry is not None:
        return exc.should_retry
    return exc.retryable


@dataclass
class CallStats:
    """Counters of one caller, shared by its threads."""

    requests: int = 0
    retries: int = 0
    errors: int = 0
    rate_limited: int = 0
    last_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, **counts: int) -> None:
        """Add to counters atomically."""
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


class PacedCaller:
    """Runs Stripe calls under a token bucket, retrying what may be retried, counting all."""

    def __init__(
        self,
        bucket: TokenBucket | None = None,
        policy: RetryPolicy | None = None,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bucket = bucket
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.stats = CallStats()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call `fn`, retrying retryable Stripe errors with backoff; re-raise the rest."""
        return self._call(fn, args, kwargs, unqueued=False)

    def call_unqueued(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like `call`, but yield the rate to callers of `call`: wait without queueing more
        than two requests ahead (TokenBucket.acquire_unqueued)."""
        return self._call(fn, args, kwargs, unqueued=True)

    def _call(
        self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], unqueued: bool
    ) -> T:
        attempt = 0
        while True:
            if self.bucket is not None and unqueued:
                self.bucket.acquire_unqueued()
            elif self.bucket is not None:
                self.bucket.acquire()
            self.stats.bump(requests=1)
            try:
                result = fn(*args, **kwargs)
            except StripeError as exc:
                limited = exc.http_status == 429
                self.stats.bump(errors=1, rate_limited=int(limited))
                self.stats.last_error = str(exc)
                if limited and self.bucket is not None:
                    self.bucket.slow_down()
                if not should_retry(exc) or attempt + 1 >= self.policy.max_attempts:
                    raise
                self.stats.bump(retries=1)
                self.sleep(self.policy.delay(attempt, self.rng))
                attempt += 1
                continue
            if self.bucket is not None:
                self.bucket.speed_up()
            return result
