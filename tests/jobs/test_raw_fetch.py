"""The sync's raw fetch (`list_page_raw`, `retrieve_raw`) against the sandbox over HTTP: the same
data as the SDK's converted objects, the connected account's header, and the same error rules
(404 asked once, a garbled 2xx retried, a 429 slowing the bucket down)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest

from core.adapters.stripe_gateway import StripeGateway, list_page_raw, make_client, retrieve_raw
from core.errors import StripeRateLimited, StripeRequestError, StripeUnavailable
from core.sync.ratelimit import PacedCaller, RetryPolicy, TokenBucket, should_retry
from tests.conftest import settings_for
from tests.support.sandbox import SANDBOX_KEY, running_sandbox
from tests.support.sync import control


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with running_sandbox(customers=12, days=20, connected_accounts=1) as server:
        yield server


def _gateway(server: Any, tmp_path: Any, account: str | None = None) -> StripeGateway:
    settings = settings_for(
        f"sqlite:///{tmp_path}/x.db",
        tmp_path,
        STRIPE_API_KEY=SANDBOX_KEY,
        STRIPE_API_BASE=server.url,
        LEDGERDESK_SANDBOX="1",
    )
    return StripeGateway(make_client(settings, timeout=5), account)


def _requests(url: str) -> list[dict[str, Any]]:
    return list(control(url, "requests?limit=10000")["requests"])


@pytest.fixture(autouse=True)
def _no_faults(sandbox: Any) -> Any:
    yield
    control(sandbox.url, "config", {"fault_rate": "0"})


def test_raw_pages_equal_the_sdk_objects_and_keep_expansions(sandbox: Any, tmp_path: Any) -> None:
    gateway = _gateway(sandbox, tmp_path)
    for resource, params in (
        ("events", {"limit": 100}),
        ("customers", {"limit": 5, "expand": ["data.invoice_settings.default_payment_method"]}),
        ("radar.early_fraud_warnings", {"limit": 3}),
        ("charges", {"limit": 7, "created": {"gte": 0}}),
    ):
        raw = list_page_raw(gateway, resource, params)
        converted = gateway.list_page(resource, params)
        assert type(raw) is dict and (raw["data"] or resource.startswith("radar.")), resource
        assert json.dumps(raw, sort_keys=True) == json.dumps(converted, sort_keys=True), resource
    charge = raw["data"][0]
    assert retrieve_raw(gateway, "charges", charge["id"]) == gateway.retrieve(
        "charges", charge["id"]
    )


def test_a_connected_account_is_read_with_its_header(sandbox: Any, tmp_path: Any) -> None:
    connected = control(sandbox.url, "accounts")["connected"][0]
    platform = list_page_raw(_gateway(sandbox, tmp_path), "customers", {"limit": 100})
    theirs = list_page_raw(_gateway(sandbox, tmp_path, connected), "customers", {"limit": 100})
    assert theirs["data"] and {c["id"] for c in theirs["data"]}.isdisjoint(
        c["id"] for c in platform["data"]
    )
    assert _requests(sandbox.url)[-1]["account"] == connected


def test_a_missing_object_is_asked_for_once(sandbox: Any, tmp_path: Any) -> None:
    gateway = _gateway(sandbox, tmp_path)
    caller = PacedCaller(None, RetryPolicy(max_attempts=5), sleep=lambda _s: None)
    before = len(_requests(sandbox.url))
    with pytest.raises(StripeRequestError) as caught:
        caller.call(retrieve_raw, gateway, "charges", "ch_doesnotexist")
    assert caught.value.http_status == 404 and not should_retry(caught.value)
    assert "ch_doesnotexist" in str(caught.value)
    assert caller.stats.requests == 1 and len(_requests(sandbox.url)) == before + 1


def test_a_garbled_success_is_retried_until_it_parses(sandbox: Any, tmp_path: Any) -> None:
    gateway = _gateway(sandbox, tmp_path)
    control(sandbox.url, "config", {"fault_rate": "1", "fault_kinds": "truncated"})
    with pytest.raises(StripeUnavailable) as caught:
        list_page_raw(gateway, "events", {"limit": 10})
    assert caught.value.http_status == 200 and should_retry(caught.value)
    caller = PacedCaller(None, RetryPolicy(max_attempts=3), sleep=lambda _s: None)
    with pytest.raises(StripeUnavailable):
        caller.call(list_page_raw, gateway, "events", {"limit": 10})
    assert caller.stats.requests == 3 and caller.stats.retries == 2


def test_a_429_backs_off_and_slows_the_bucket(sandbox: Any, tmp_path: Any) -> None:
    gateway = _gateway(sandbox, tmp_path)
    control(sandbox.url, "config", {"fault_rate": "1", "fault_kinds": "429"})
    bucket = TokenBucket(50, burst=5)
    delays: list[float] = []
    caller = PacedCaller(bucket, RetryPolicy(max_attempts=2), sleep=delays.append)
    with pytest.raises(StripeRateLimited) as caught:
        caller.call(list_page_raw, gateway, "events", {"limit": 10})
    assert caught.value.http_status == 429 and should_retry(caught.value)
    assert caller.stats.rate_limited == 2 and len(delays) == 1 and delays[0] > 0
    assert bucket.rate < 50


def _logfmt_calls(fetch: Any) -> int:
    """How often stripe-python formats a log line while `fetch` runs (seen by the profiler)."""
    calls: list[str] = []

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == "logfmt":
            calls.append(frame.f_code.co_filename)

    sys.setprofile(profile)
    try:
        fetch()
    finally:
        sys.setprofile(None)
    return len(calls)


def test_the_sdk_log_is_formatted_only_when_someone_reads_it(sandbox: Any, tmp_path: Any) -> None:
    gateway = _gateway(sandbox, tmp_path)
    page = list_page_raw(gateway, "events", {"limit": 100})
    assert _logfmt_calls(lambda: list_page_raw(gateway, "events", {"limit": 100})) == 0
    assert list_page_raw(gateway, "events", {"limit": 100}) == page

    logger = logging.getLogger("stripe")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        assert list_page_raw(gateway, "events", {"limit": 100}) == page
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    messages = [r.getMessage() for r in records]
    assert any("API response body" in m and page["data"][0]["id"] in m for m in messages)
