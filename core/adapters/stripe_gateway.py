"""The one adapter that talks to the `stripe` package.

Everything else in Ledgerdesk calls Stripe through `StripeGateway`, receives plain dicts, and
sees only `core.errors.StripeError` subclasses — never a `stripe` exception or `StripeObject`.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import orjson
import stripe

from core.config import STRIPE_API_VERSION, STRIPE_DEFAULT_BASE, Settings
from core.errors import (
    StripeAuthError,
    StripeError,
    StripeIdempotencyError,
    StripePermissionError,
    StripeRateLimited,
    StripeRequestError,
    StripeUnavailable,
    WebhookRejected,
)

DEFAULT_TIMEOUT_SECONDS = 30


def make_client(
    settings: Settings,
    *,
    max_network_retries: int = 0,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> stripe.StripeClient:
    """A StripeClient for the configured key and base address (Stripe, the sandbox, a fake)."""
    key = settings.require_stripe_key().reveal()
    base = settings.stripe_api_base
    # A Stripe-compatible server (the sandbox, localstripe) serves files and connect itself.
    addresses: Any = (
        None if base == STRIPE_DEFAULT_BASE else {"api": base, "files": base, "connect": base}
    )
    return stripe.StripeClient(
        key,
        stripe_version=STRIPE_API_VERSION,
        base_addresses=addresses,
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def translate_error(exc: stripe.StripeError) -> StripeError:
    """Map a `stripe` exception to the core hierarchy, keeping code, status and retry hint."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    hint = headers.get("stripe-should-retry")
    should_retry = None if hint is None else hint.lower() == "true"
    code = getattr(exc, "code", None)
    message = exc.user_message or str(exc) or exc.__class__.__name__
    kwargs: dict[str, Any] = {
        "http_status": exc.http_status,
        "code": code,
        "request_id": exc.request_id,
        "should_retry": should_retry,
    }
    if isinstance(exc, stripe.AuthenticationError):
        return StripeAuthError(f"Stripe rejected the API key: {message}", **kwargs)
    if isinstance(exc, stripe.PermissionError):
        return StripePermissionError(f"The API key may not do this: {message}", **kwargs)
    if isinstance(exc, stripe.RateLimitError):
        return StripeRateLimited(f"Stripe rate limit reached: {message}", **kwargs)
    if isinstance(exc, stripe.IdempotencyError):
        return StripeIdempotencyError(message, **kwargs)
    if isinstance(exc, stripe.APIConnectionError):
        return StripeUnavailable(f"Could not reach Stripe: {message}", **kwargs)
    if isinstance(exc, stripe.InvalidRequestError | stripe.CardError):
        if exc.http_status == 429:
            return StripeRateLimited(f"Stripe rate limit reached: {message}", **kwargs)
        return StripeRequestError(message, **kwargs)
    if exc.http_status is not None and 200 <= exc.http_status < 300:
        # A success status whose body did not parse: cut off or garbled in transit. Retrying is
        # safe (reads; writes carry an idempotency key) and is what Stripe recommends.
        return StripeUnavailable(
            f"Stripe's response was cut off or garbled: {message}",
            **(kwargs | {"should_retry": should_retry if should_retry is not None else True}),
        )
    if exc.http_status is not None and exc.http_status < 500 and exc.http_status != 409:
        return StripeRequestError(message, **kwargs)
    return StripeUnavailable(f"Stripe answered with an error: {message}", **kwargs)


def _plain(obj: Any) -> Any:
    """Plain JSON-ready data: the SDK turns Stripe's decimal strings into Decimal; undo that."""
    if isinstance(obj, stripe.StripeObject):
        obj = obj.to_dict(recursive=True)
    return _json_ready(obj)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


class StripeGateway:
    """Stripe calls for one account (the platform, or a connected account via Stripe-Account)."""

    def __init__(self, client: stripe.StripeClient, account: str | None = None) -> None:
        self.client = client
        self.account = account or None

    def _options(self, idempotency_key: str | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.account:
            options["stripe_account"] = self.account
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        return options

    def _service(self, resource: str) -> Any:
        service: Any = self.client.v1
        for part in resource.split("."):
            service = getattr(service, part)
        return service

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call, translating its errors and returning plain data."""
        try:
            return _plain(fn(*args, **kwargs))
        except stripe.StripeError as exc:
            raise translate_error(exc) from None

    def list_page(self, resource: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One page of a list endpoint, e.g. list_page("events", {"limit": 100})."""
        service = self._service(resource)
        result: dict[str, Any] = self.call(service.list, dict(params or {}), self._options())
        return result

    def retrieve(
        self, resource: str, object_id: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Read one object fresh from Stripe."""
        service = self._service(resource)
        result: dict[str, Any] = self.call(
            service.retrieve, object_id, dict(params or {}), self._options()
        )
        return result

    # --- writes (actions) ---
    # Used only by the action executors (core/governance/executor.py, core/governance/executors.py). Every write
    # takes the idempotency key the executor saved before calling, so a retry after a crash is
    # replayed by Stripe instead of moving money twice.

    def _write(self, fn: Any, *args: Any, idempotency_key: str) -> dict[str, Any]:
        if not idempotency_key:
            raise ValueError("every Stripe write needs an idempotency key")
        result: dict[str, Any] = self.call(fn, *args, self._options(idempotency_key))
        return result

    def create_refund(
        self,
        *,
        idempotency_key: str,
        charge: str | None = None,
        payment_intent: str | None = None,
        amount: int | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST /v1/refunds for a charge or payment intent (full when amount is None)."""
        params: dict[str, Any] = {"metadata": dict(metadata or {})}
        for name, value in (
            ("charge", charge),
            ("payment_intent", payment_intent),
            ("amount", amount),
            ("reason", reason),
        ):
            if value is not None:
                params[name] = value
        return self._write(self.client.v1.refunds.create, params, idempotency_key=idempotency_key)

    def list_refunds(
        self,
        *,
        charge: str | None = None,
        payment_intent: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The refunds of one charge or payment intent (newest first, up to `limit`)."""
        params: dict[str, Any] = {"limit": limit}
        if charge:
            params["charge"] = charge
        if payment_intent:
            params["payment_intent"] = payment_intent
        return list(self.list_page("refunds", params).get("data", []))

    def find_refund_by_metadata(
        self,
        key: str,
        value: str,
        *,
        charge: str | None = None,
        payment_intent: str | None = None,
    ) -> dict[str, Any] | None:
        """A refund of this charge whose metadata[key] == value (how a forgotten key is recovered)."""
        for refund in self.list_refunds(charge=charge, payment_intent=payment_intent):
            if str((refund.get("metadata") or {}).get(key, "")) == value:
                return refund
        return None

    def update_dispute(
        self,
        dispute_id: str,
        *,
        idempotency_key: str,
        evidence: Mapping[str, Any] | None = None,
        submit: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST /v1/disputes/{id}: stage (submit=False) or submit (submit=True) evidence."""
        params: dict[str, Any] = {"submit": submit}
        if evidence:
            params["evidence"] = dict(evidence)
        if metadata:
            params["metadata"] = dict(metadata)
        return self._write(
            self.client.v1.disputes.update,
            dispute_id,
            params,
            idempotency_key=idempotency_key,
        )

    def close_dispute(self, dispute_id: str, *, idempotency_key: str) -> dict[str, Any]:
        """POST /v1/disputes/{id}/close: accept the loss (cannot be undone)."""
        return self._write(
            self.client.v1.disputes.close,
            dispute_id,
            {},
            idempotency_key=idempotency_key,
        )

    def upload_file(
        self,
        content: bytes,
        filename: str,
        *,
        idempotency_key: str,
        purpose: str = "dispute_evidence",
        mime_type: str = "application/pdf",
    ) -> dict[str, Any]:
        """POST /v1/files (multipart) and return the file object; its id goes into evidence.

        The SDK sends a file part for a readable object, named by its `name` attribute; Stripe
        detects the type from the content (`mime_type` is kept for callers' clarity)."""
        upload = io.BytesIO(content)
        upload.name = filename
        params: dict[str, Any] = {"purpose": purpose, "file": upload}
        return self._write(self.client.v1.files.create, params, idempotency_key=idempotency_key)

    def find_file(
        self, filename: str, *, purpose: str = "dispute_evidence", created_gte: int | None = None
    ) -> dict[str, Any] | None:
        """An uploaded file by its exact name (how an upload is found once its key is forgotten)."""
        params: dict[str, Any] = {"limit": 100, "purpose": purpose}
        if created_gte is not None:
            params["created"] = {"gte": created_gte}
        while True:
            page = self.list_page("files", params)
            for found in page.get("data", []):
                if found.get("filename") == filename:
                    return dict(found)
            if not page.get("has_more") or not page.get("data"):
                return None
            params["starting_after"] = page["data"][-1]["id"]

    def cancel_subscription(
        self,
        subscription_id: str,
        *,
        idempotency_key: str,
        invoice_now: bool = False,
        prorate: bool = False,
    ) -> dict[str, Any]:
        """DELETE /v1/subscriptions/{id}: cancel now."""
        params: dict[str, Any] = {}
        if invoice_now:
            params["invoice_now"] = True
        if prorate:
            params["prorate"] = True
        return self._write(
            self.client.v1.subscriptions.cancel,
            subscription_id,
            params,
            idempotency_key=idempotency_key,
        )

    def pay_invoice(self, invoice_id: str, *, idempotency_key: str) -> dict[str, Any]:
        """POST /v1/invoices/{id}/pay: retry the payment now (a decline raises StripeRequestError)."""
        return self._write(
            self.client.v1.invoices.pay, invoice_id, {}, idempotency_key=idempotency_key
        )

    def find_customer_credit_by_metadata(
        self, customer_id: str, key: str, value: str, *, pages: int = 10
    ) -> dict[str, Any] | None:
        """A balance transaction of this customer whose metadata[key] == value, newest first
        (how a credit is found again once Stripe has forgotten its idempotency key)."""
        params: dict[str, Any] = {"limit": 100}
        for _ in range(pages):
            page = self.call(
                self.client.v1.customers.balance_transactions.list,
                customer_id,
                dict(params),
                self._options(),
            )
            data = list(page.get("data") or [])
            for txn in data:
                if str((txn.get("metadata") or {}).get(key, "")) == value:
                    return dict(txn)
            if not page.get("has_more") or not data:
                return None
            params["starting_after"] = data[-1]["id"]
        return None

    def create_customer_balance_transaction(
        self,
        customer_id: str,
        *,
        amount: int,
        currency: str,
        idempotency_key: str,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST /v1/customers/{id}/balance_transactions (negative amount = credit to the customer)."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "metadata": dict(metadata or {}),
        }
        if description:
            params["description"] = description
        return self._write(
            self.client.v1.customers.balance_transactions.create,
            customer_id,
            params,
            idempotency_key=idempotency_key,
        )


# --- events, lists and webhooks ---------------------------------------------------------------
# Used by the sync engine (core/sync/poll.py, core/sync/backfill.py, core/sync/webhook_receiver.py).


def _get_json(gateway: StripeGateway, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """GET a v1 path through the SDK's requestor and parse the body once, with orjson.

    The requestor sends what `service.list` would (key, pinned API version, Stripe-Account,
    query encoding, the client's network retries); the body is never turned into a
    StripeObject. A non-2xx answer goes through the SDK's own error mapping, so
    `translate_error` sees the same exceptions as for any other call.

    This is the call `StripeClient.raw_request` makes, one level down: `raw_request` itself
    parses the body again with `json.loads` into OrderedDicts. The `stripe` pin in
    requirements.txt keeps the requestor's signature; tests/jobs/test_raw_fetch.py checks it."""
    requestor = gateway.client._requestor
    try:
        body, status, headers = requestor.request_raw(
            "get",
            path,
            dict(params),
            gateway._options(),  # type: ignore[arg-type]
            base_address="api",
            api_mode="V1",
            usage=["ledgerdesk_raw"],
        )
        if not 200 <= status < 300:
            requestor._interpret_response(body, status, headers, "V1")
        try:
            data = orjson.loads(body)  # type: ignore[arg-type]
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise stripe.APIError(
                f"Invalid response body from API (HTTP response code was {status})",
                http_body=body,  # type: ignore[arg-type]
                http_status=status,
                headers=dict(headers),
            )
    except stripe.StripeError as exc:  # a garbled 2xx is retryable: see translate_error
        raise translate_error(exc) from None
    return data


def _path(resource: str) -> str:
    """The v1 path of a top-level resource: "radar.early_fraud_warnings" → /v1/radar/…"""
    return "/v1/" + resource.replace(".", "/")


def list_page_raw(
    gateway: StripeGateway, resource: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """One list page as plain JSON data, parsed once with orjson (the sync hot path)."""
    page = _get_json(gateway, _path(resource), params)
    if not isinstance(page.get("data"), list):
        raise translate_error(
            stripe.APIError(f"A list of {resource} came back without data", http_status=200)
        )
    return page


def retrieve_raw(gateway: StripeGateway, resource: str, object_id: str) -> dict[str, Any]:
    """Read one object fresh, parsed once like list_page_raw (a garbled 2xx is retryable)."""
    return _get_json(gateway, f"{_path(resource)}/{quote(object_id, safe='')}", {})


_SIGNATURE_REASONS = (
    ("No Stripe-Signature header", "missing_signature"),
    ("Unable to extract timestamp", "malformed_signature"),
    ("No signatures found with expected scheme", "malformed_signature"),
    ("Timestamp outside the tolerance zone", "stale_timestamp"),
    ("No signatures found matching", "bad_signature"),
)


def verify_webhook_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Check `Stripe-Signature` over the raw body; raise WebhookRejected naming the reason.

    The stripe library refuses signatures older than `tolerance`; one stamped more than
    `tolerance` ahead of this clock is refused too (a signature minted for a later replay).
    """
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        stamp = _signature_timestamp(header or "")
        ahead = stamp - (time.time() if now is None else now)
        if ahead > tolerance:
            raise WebhookRejected(
                "future_timestamp",
                f"the signature timestamp is {ahead:,.0f} s in the future, beyond the "
                f"{tolerance} s tolerance (check this server's clock)",
            )
    except stripe.SignatureVerificationError as exc:
        text = str(exc)
        reason = next((r for prefix, r in _SIGNATURE_REASONS if prefix in text), "bad_signature")
        messages = {
            "missing_signature": "the request has no Stripe-Signature header",
            "malformed_signature": "the Stripe-Signature header is malformed (expected t=...,v1=...)",
            "stale_timestamp": f"the signature timestamp is older than {tolerance} s (replayed or "
            "delayed delivery)",
            "bad_signature": "no v1 signature matches the body and the endpoint secret",
        }
        raise WebhookRejected(reason, messages[reason]) from None
    except UnicodeDecodeError:
        raise WebhookRejected("bad_body", "the body is not UTF-8 text") from None


def _signature_timestamp(header: str) -> int:
    """The `t=` of a Stripe-Signature header the stripe library has already accepted."""
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            return int(value)
    raise WebhookRejected("malformed_signature", "the Stripe-Signature header has no t= timestamp")


def sign_webhook_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header for `payload` (tests and `stripe listen`-style forwarding)."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8"), secret, timestamp
    )
    return header
