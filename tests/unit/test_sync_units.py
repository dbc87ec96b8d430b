"""Pure parts of the sync engine: pacing, backoff, invoice shapes, event validation, encoding."""

from __future__ import annotations

import json
import random

import pytest

from core.errors import StripeAuthError, StripeRateLimited, StripeUnavailable
from core.sync.ingest_prepare import _encode, event_problem, prepare_events
from core.sync.invoice_shape import (
    invoice_charge_id,
    invoice_payment_intent_id,
    invoice_subscription_id,
)
from core.sync.processing import EventContext, handlers_for, handles, retry_delay
from core.sync.ratelimit import PacedCaller, RetryPolicy, TokenBucket, should_retry


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_paces_to_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(25, burst=1, clock=clock, sleep=clock.sleep)
    for _ in range(101):
        bucket.acquire()
    assert clock.now == pytest.approx(4.0)  # 100 intervals of 1/25 s after the first token


def test_full_jitter_is_capped_and_grows() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(3)
    delays = [policy.delay(a, rng) for a in range(10) for _ in range(50)]
    assert max(delays) <= 4.0 and min(delays) >= 0
    assert max(policy.delay(0, rng) for _ in range(50)) <= 0.5


def test_retries_rate_limits_then_succeeds_and_counts() -> None:
    clock = FakeClock()
    caller = PacedCaller(None, RetryPolicy(base=0.1), sleep=clock.sleep)
    answers = [
        StripeRateLimited("slow down", http_status=429),
        StripeUnavailable("502"),
        "ok",
    ]

    def call() -> str:
        item = answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    assert caller.call(call) == "ok"
    assert (caller.stats.requests, caller.stats.retries, caller.stats.rate_limited) == (
        3,
        2,
        1,
    )


def test_should_retry_header_wins_and_auth_is_never_retried() -> None:
    assert not should_retry(StripeUnavailable("x", should_retry=False))
    assert should_retry(StripeAuthError("x", should_retry=None)) is False
    assert should_retry(StripeRateLimited("x", should_retry=True))
    caller = PacedCaller(None, RetryPolicy(), sleep=lambda s: None)
    calls = []

    def revoked() -> None:
        calls.append(1)
        raise StripeAuthError("revoked", http_status=401)

    with pytest.raises(StripeAuthError):
        caller.call(revoked)
    assert len(calls) == 1


def test_invoice_shapes_old_and_new() -> None:
    old = {"charge": "ch_1", "payment_intent": "pi_1", "subscription": "sub_1"}
    new = {
        "payments": {
            "data": [
                {
                    "is_default": True,
                    "payment": {"type": "payment_intent", "payment_intent": "pi_2"},
                }
            ]
        },
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": "sub_2"},
        },
    }
    assert (
        invoice_charge_id(old),
        invoice_payment_intent_id(old),
        invoice_subscription_id(old),
    ) == (
        "ch_1",
        "pi_1",
        "sub_1",
    )
    assert (invoice_payment_intent_id(new), invoice_subscription_id(new)) == (
        "pi_2",
        "sub_2",
    )
    assert invoice_charge_id(new) is None
    assert invoice_payment_intent_id({"payment_intent": {"id": "pi_3"}}) == "pi_3"
    assert invoice_subscription_id({"parent": None}) is None


def _event(**over: object) -> dict:
    base = {
        "id": "evt_1",
        "type": "invoice.paid",
        "created": 1700000000,
        "api_version": "2024-06-20",
        "data": {"object": {"id": "in_1", "object": "invoice", "name": "Zoë ✓"}},
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"data": None}, "no `data`"),
        ({"type": 42}, "unknown event type"),
        ({"type": "NotAType"}, "unknown event type"),
        ({"created": "yesterday"}, "`created`"),
        ({"id": None}, "valid `id`"),
        ({"data": {"object": "in_1"}}, "`data.object`"),
    ],
)
def test_malformed_events_are_named(override: dict, reason: str) -> None:
    problem = event_problem(_event(**override))
    assert problem is not None and reason in problem


def test_encoding_round_trips_the_event_and_its_object() -> None:
    event = _event()
    event_json, obj_json = _encode(event)
    assert json.loads(event_json) == event
    assert json.loads(obj_json) == event["data"]["object"]


def test_prepare_keeps_newest_snapshot_and_flags_same_second_conflicts() -> None:
    a = _event(
        id="evt_a",
        created=10,
        data={"object": {"id": "in_1", "object": "invoice", "v": 1}},
    )
    b = _event(
        id="evt_b",
        created=10,
        data={"object": {"id": "in_1", "object": "invoice", "v": 2}},
    )
    c = _event(
        id="evt_c",
        created=5,
        data={"object": {"id": "in_1", "object": "invoice", "v": 0}},
    )
    batch = prepare_events([a, b, c, b], raw_json=False)
    assert batch.duplicates == 1 and len(batch.rows) == 3
    assert batch.snapshots["in_1"]["source_event_id"] == "evt_b"
    assert "in_1" in batch.ties


def test_huge_payload_is_dead_lettered_with_a_stub() -> None:
    huge = _event(
        id="evt_big",
        data={"object": {"id": "in_9", "object": "invoice", "x": "a" * 2_000_000}},
    )
    batch = prepare_events([huge], raw_json=False)
    row = batch.rows[0]
    assert row["status"] == "dead" and "limit" in row["last_error"]
    assert len(json.dumps(row["payload"])) < 10_000 and not batch.snapshots


def test_handlers_match_exact_and_wildcard_types() -> None:
    seen: list[str] = []

    @handles("zz_test.thing.happened")
    def exact(session: object, event: EventContext) -> None:
        seen.append("exact")

    @handles("zz_test.*")
    def wild(session: object, event: EventContext) -> None:
        seen.append("wild")

    assert handlers_for("zz_test.thing.happened") == [exact, wild]
    assert handlers_for("zz_test.other") == [wild]
    assert 5 <= retry_delay(1, random.Random(1)) <= 10


def test_a_garbled_2xx_body_is_retryable_and_a_4xx_is_not() -> None:
    import stripe

    from core.adapters.stripe_gateway import translate_error
    from core.errors import StripeRequestError, StripeUnavailable
    from core.sync.ratelimit import should_retry

    cut = translate_error(
        stripe.APIError("Invalid response body from API", http_body='{"data": [', http_status=200)
    )
    assert isinstance(cut, StripeUnavailable) and should_retry(cut) and cut.http_status == 200
    bad = translate_error(stripe.InvalidRequestError("No such customer", "id", http_status=404))
    assert isinstance(bad, StripeRequestError) and not should_retry(bad)
