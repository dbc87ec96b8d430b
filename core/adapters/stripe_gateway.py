"""The one adapter that talks to the `stripe` package.

Everything else in Ledgerdesk calls Stripe through `StripeGateway`, receives plain dicts, and
sees only `core.errors.StripeError` subclasses — never a `stripe` exception or `StripeObject`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import orjson
import stripe
from stripe import _util as stripe_util

from core.adapters.stripe_errors import translate_error as translate_error
from core.adapters.stripe_webhooks import sign_webhook_payload as sign_webhook_payload
from core.adapters.stripe_webhooks import verify_webhook_signature as verify_webhook_signature
from core.config import STRIPE_API_VERSION, STRIPE_DEFAULT_BASE, Settings

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


# --- raw lists: the sync engine's hot path (core/sync/poll.py, core/sync/backfill.py) ----------
_SDK_LOGGER = logging.getLogger("stripe")
_USAGE = ["ledgerdesk_raw"]


def _sdk_log_wanted() -> bool:
    """Whether anyone reads the SDK's request log: `stripe.log`, STRIPE_LOG, or the `stripe`
    logger enabled at INFO or DEBUG."""
    return stripe_util._console_log_level() is not None or _SDK_LOGGER.isEnabledFor(logging.INFO)


def _request(requestor: Any, path: str, params: Mapping[str, Any], options: Any) -> Any:
    """GET through the requestor's own request building and HTTP client (retries included).

    `request_raw` adds the SDK's log lines, and formats them even when no one reads them:
    `logfmt` decodes the whole response body, scans it for whitespace and repr()s it for a
    debug line that is then dropped — about 2 ms of CPU per 100-event page. The log is kept
    whenever it is switched on; otherwise the same two steps run without it."""
    if _sdk_log_wanted():
        return requestor.request_raw(
            "get", path, dict(params), options, base_address="api", api_mode="V1", usage=_USAGE
        )
    method, url, headers, post_data, retries, usage, _query, _version = (
        requestor._args_for_request_with_retries(
            "get", path, dict(params), options, base_address="api", api_mode="V1", usage=_USAGE
        )
    )
    return requestor._get_http_client().request_with_retries(
        method, url, headers, post_data, max_network_retries=retries, _usage=usage
    )


def _get_json(gateway: StripeGateway, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """GET a v1 path through the SDK's requestor and parse the body once, with orjson.

    The requestor sends what `service.list` would (key, pinned API version, Stripe-Account,
    query encoding, the client's network retries); the body is never turned into a
    StripeObject. A non-2xx answer goes through the SDK's own error mapping, so
    `translate_error` sees the same exceptions as for any other call.

    `StripeClient.raw_request` would parse the body again with `json.loads` into OrderedDicts
    (and format the log, see `_request`). The `stripe` pin in requirements.txt keeps the
    requestor's signatures; tests/jobs/test_raw_fetch.py checks them."""
    requestor = gateway.client._requestor
    try:
        body, status, headers = _request(requestor, path, params, gateway._options())
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
