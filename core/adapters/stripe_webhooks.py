"""Webhook signatures: `Stripe-Signature` checked and minted with the `stripe` package.

Used by the webhook receiver (core/sync/webhook_receiver.py) and by tests that forward events
the way `stripe listen` does."""

from __future__ import annotations

import time

import stripe

from core.errors import WebhookRejected

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
