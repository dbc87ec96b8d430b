"""The one adapter that talks to the `stripe` package.

Everything else in Ledgerdesk calls Stripe through `StripeGateway`, receives plain dicts, and
sees only `core.errors.StripeError` subclasses — never a `stripe` exception or `StripeObject`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
)

DEFAULT_TIMEOUT_SECONDS = 30


def make_client(
    settings: Settings, *, max_network_retries: int = 0, timeout: float = DEFAULT_TIMEOUT_SECONDS
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
    if exc.http_status is not None and exc.http_status < 500 and exc.http_status != 409:
        return StripeRequestError(message, **kwargs)
    return StripeUnavailable(f"Stripe answered with an error: {message}", **kwargs)


def _plain(obj: Any) -> Any:
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict(recursive=True)
    return obj


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
