"""`stripe` exceptions mapped to `core.errors`: nothing outside core/adapters sees the SDK's own."""

from __future__ import annotations

from typing import Any

import stripe

from core.errors import (
    StripeAuthError,
    StripeError,
    StripeIdempotencyError,
    StripePermissionError,
    StripeRateLimited,
    StripeRequestError,
    StripeUnavailable,
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
