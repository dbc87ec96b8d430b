"""Request pacing and retries for Stripe calls: a token bucket and backoff with full jitter.

The StripeClient is built with `max_network_retries=0` so this module alone decides: 429 and
5xx/timeouts are retried with capped exponential backoff and full jitter, a `Stripe-Should-Retry`
header is obeyed either way, and authentication or permission errors are raised at once (the
caller stops that account and shows why). Clock, sleep and randomness are injected for tests.
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
    """Thread-safe pacing: at most `rate` acquisitions per second, bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()

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
    """Retry when Stripe says so, never when it says not to, else by the error's kind."""
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
        attempt = 0
        while True:
            if self.bucket is not None:
                self.bucket.acquire()
            self.stats.bump(requests=1)
            try:
                return fn(*args, **kwargs)
            except StripeError as exc:
                self.stats.bump(errors=1, rate_limited=int(exc.http_status == 429))
                self.stats.last_error = str(exc)
                if not should_retry(exc) or attempt + 1 >= self.policy.max_attempts:
                    raise
                self.stats.bump(retries=1)
                self.sleep(self.policy.delay(attempt, self.rng))
                attempt += 1
