"""A caller off the critical path (a window the backfill could split) never reserves the rate
far ahead: whoever asks normally meanwhile is served before it, and the limit still holds."""

from __future__ import annotations

import threading
import time

import pytest

from core.sync.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def test_an_unqueued_request_waits_behind_the_queue_without_joining_it() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=1, clock=clock, sleep=clock.sleep)
    waits = [bucket.reserve() for _ in range(5)]  # five queued requests: 0, 0.1 ... 0.4 s
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    # More than two slots are promised ahead: refused, and nothing taken.
    assert bucket.try_reserve(0.2) < 0
    assert bucket.reserve() == pytest.approx(0.5)  # a normal caller keeps its place
    bucket.acquire_unqueued()
    # It waited until at most two slots were promised ahead, then took the next free one:
    # after the six queued requests, and never two in the same tenth of a second.
    assert clock.now == pytest.approx(0.6)
    assert bucket.reserve() == pytest.approx(0.1)


class CountingBucket(TokenBucket):
    """A bucket that counts how often it is asked for a slot."""

    asked = 0

    def try_reserve(self, max_wait: float) -> float:
        self.asked += 1
        return super().try_reserve(max_wait)


def test_unqueued_callers_take_turns_instead_of_all_asking_on_every_slot() -> None:
    bucket = CountingBucket(200, burst=1)
    start = threading.Barrier(30)

    def one() -> None:
        start.wait()
        bucket.acquire_unqueued()

    threads = [threading.Thread(target=one) for _ in range(30)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 30 slots at 200/s take about 0.15 s; each caller asked about once or twice, not once
    # per slot that passed while it waited (hundreds of times in all).
    assert time.monotonic() - began >= 29 / 200
    assert bucket.asked <= 3 * 30, bucket.asked
