"""Authentication, error JSON shapes and Connect isolation, as Stripe answers them."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest
import stripe

from sandbox.server import SandboxServer
from tests.sandbox.conftest import control, make_client


def _raw(url: str, headers: dict[str, str]) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def test_missing_key_is_401_with_stripe_message(sbx: SandboxServer) -> None:
    status, body, headers = _raw(sbx.url + "/v1/events", {})
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert "You did not provide an API key" in body["error"]["message"]
    assert headers["Request-Id"].startswith("req_")


def test_basic_auth_accepted(sbx: SandboxServer) -> None:
    token = base64.b64encode(b"sk_test_basic:").decode()
    status, body, _ = _raw(sbx.url + "/v1/customers?limit=1", {"Authorization": f"Basic {token}"})
    assert status == 200 and body["object"] == "list"


def test_invalid_and_revoked_keys(sbx: SandboxServer) -> None:
    with pytest.raises(stripe.AuthenticationError) as exc:
        make_client(sbx.url, key="pk_test_public").v1.customers.list()
    assert exc.value.http_status == 401 and "Invalid API Key provided" in str(exc.value)
    assert "pk_test_public" not in str(exc.value)  # Stripe masks keys in messages
    control(sbx.url, "/_sandbox/keys/revoke", {"key": "sk_test_revokedkey1"})
    with pytest.raises(stripe.AuthenticationError) as exc:
        make_client(sbx.url, key="sk_test_revokedkey1").v1.customers.list()
    assert exc.value.json_body["error"]["code"] == "api_key_expired"


def test_restricted_key_reads_but_cannot_write(sbx: SandboxServer) -> None:
    rk = make_client(sbx.url, key="rk_test_readonly")
    charge = rk.v1.charges.list({"limit": 1}).data[0]
    with pytest.raises(stripe.PermissionError) as exc:
        rk.v1.refunds.create({"charge": charge.id, "amount": 1})
    assert exc.value.http_status == 403
    assert (
        charge.amount_refunded
        == make_client(sbx.url).v1.charges.retrieve(charge.id).amount_refunded
    )


def test_404_shape(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.disputes.retrieve("dp_nope")
    err = exc.value.json_body["error"]
    assert exc.value.http_status == 404
    assert err["code"] == "resource_missing" and err["param"] == "id"
    assert err["message"] == "No such dispute: 'dp_nope'" and err["doc_url"].endswith(
        "resource-missing"
    )


def test_unknown_url_is_404(sbx: SandboxServer) -> None:
    status, body, _ = _raw(sbx.url + "/v1/nothing_here", {"Authorization": "Bearer sk_test_x"})
    assert (
        status == 404
        and "Unrecognized request URL (GET: /v1/nothing_here)" in body["error"]["message"]
    )


def test_bad_param_values_are_400_not_tracebacks(sbx: SandboxServer) -> None:
    auth = {"Authorization": "Bearer sk_test_x"}
    for query in (
        "limit=abc",
        "created[gte]=soon",
        "created[between]=1",
        "types=a&type=b",
        "limit[x]=1",
    ):
        status, body, _ = _raw(sbx.url + "/v1/events?" + query, auth)
        assert status == 400, query
        assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]


def test_connect_header_isolates_accounts(sbx: SandboxServer, client: stripe.StripeClient) -> None:
    connected = control(sbx.url, "/_sandbox/accounts")["connected"][0]
    platform_ids = {c.id for c in client.v1.customers.list({"limit": 100}).data}
    theirs = client.v1.customers.list({"limit": 100}, options={"stripe_account": connected}).data
    assert theirs and not platform_ids & {c.id for c in theirs}
    event = client.v1.events.list({"limit": 1}, options={"stripe_account": connected}).data[0]
    assert event.account == connected
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(theirs[0].id)  # not visible from the platform
    with pytest.raises(stripe.PermissionError) as exc:
        client.v1.customers.list(options={"stripe_account": "acct_unknown123"})
    assert exc.value.json_body["error"]["code"] == "account_invalid"
