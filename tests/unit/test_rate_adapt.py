"""The request pacing adapts to the server: a 429 halves the rate, successes win it back slowly,
and a request the server refuses as malformed is never asked again."""

from __future__ import annotations

import random

import pytest

from core.errors import StripeRateLimited, StripeRequestError
from core.sync.ratelimit import PacedCaller, RetryPolicy, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class StrictServer:
    """Answers at most `rate` requests per second (a token bucket of its own), else 429."""

    def __init__(self, clock: FakeClock, rate: float) -> None:
        self.clock, self.rate = clock, rate
        self.tokens, self.stamp = 1.0, 0.0
        self.ok = self.limited = 0

    def __call__(self) -> str:
        now = self.clock()
        self.tokens = min(1.0, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.clock.now += 0.005  # the request itself takes a little time
        if self.tokens < 1.0:
            self.limited += 1
            raise StripeRateLimited("slow down", http_status=429, should_retry=True)
        self.tokens -= 1.0
        self.ok += 1
        return "ok"


def test_a_429_halves_the_rate_and_successes_win_it_back_slowly() -> None:
    clock = FakeClock()
    bucket = TokenBucket(40, burst=1, clock=clock, sleep=clock.sleep)
    bucket.slow_down()
    assert bucket.rate == 20
    for _ in range(10):
        bucket.slow_down()
    assert bucket.rate == pytest.approx(bucket.floor) and bucket.floor == pytest.approx(1.25)
    bucket.speed_up()
    assert bucket.rate == pytest.approx(1.25 * 1.02)  # 2 % more per success
    for _ in range(1000):
        bucket.speed_up()
    assert bucket.rate == 40  # never above what was configured


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_a_rate_must_be_a_positive_number(bad: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(bad)


def test_a_client_set_too_fast_stops_hammering_a_slower_server() -> None:
    # The client is configured at 50 requests/s; the server takes 5/s.
    clock = FakeClock()
    server = StrictServer(clock, rate=5)
    caller = PacedCaller(
        TokenBucket(50, burst=1, clock=clock, sleep=clock.sleep),
        RetryPolicy(max_attempts=50, base=0.05, cap=0.5),
        rng=random.Random(1),
        sleep=clock.sleep,
    )
    for _ in range(50):
        assert caller.call(server) == "ok"
    # A fixed pace would see about nine 429s per success; adapting keeps them a minority.
    assert server.ok == 50
    assert server.limited < server.ok, (server.limited, server.ok)
    assert caller.stats.rate_limited == server.limited


def test_a_refused_request_is_never_retried_even_when_told_to() -> None:
    calls = []

    def refused() -> None:
        calls.append(1)
        raise StripeRequestError("Unexpected ending_before", http_status=400, should_retry=True)

    caller = PacedCaller(None, RetryPolicy(), sleep=lambda s: None)
    with pytest.raises(StripeRequestError):
        caller.call(refused)
    assert len(calls) == 1
