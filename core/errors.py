"""The one error hierarchy of Ledgerdesk.

    CoreError                      anything a user can act on; pages show it, jobs print it
    ├── ConfigError                a missing or malformed setting (names the setting and the fix)
    ├── InputError                 bad input from a person or a file (CSV row, form field, event)
    │   └── MissingObject          an event refers to a Stripe object not synced yet: fetch it
    ├── NotFound                   a record the caller asked for does not exist
    ├── PermissionDenied           the signed-in user's role does not allow the operation
    ├── InvalidTransition          a state machine was asked for an illegal move
    ├── ConflictError              someone else changed the record first (concurrent click)
    ├── StorageError               the database failed: full, read-only, locked, corrupt, unreachable
    └── StripeError                a call to Stripe (or a Stripe-compatible server) failed
        ├── StripeUnavailable      network error, timeout or 5xx: retry later
        ├── StripeRateLimited      429: retry after backing off
        ├── StripeAuthError        401: the API key is invalid or revoked; do not retry
        ├── StripePermissionError  403: the key may not do this; do not retry
        ├── StripeRequestError     400/404: the request itself is wrong
        └── StripeIdempotencyError the idempotency key was reused with other parameters

Anything that is not a CoreError is a bug and propagates.
"""

from __future__ import annotations


class CoreError(Exception):
    """An error a user can act on; the message says what to do next."""


class ConfigError(CoreError):
    """A setting is missing or malformed."""


class InputError(CoreError):
    """Input from a person or a file is malformed."""


class MissingObject(InputError):
    """An event refers to a Stripe object the store does not hold (older than the first load,
    or its own event not arrived yet). The processing queue asks the sync to fetch it and
    retries the event; `object_id` may be "<invoice id>#payments" for an invoice's payments."""

    def __init__(self, object_type: str, object_id: str, message: str) -> None:
        super().__init__(message)
        self.object_type = object_type
        self.object_id = object_id


class NotFound(CoreError):
    """The requested record does not exist."""


class PermissionDenied(CoreError):
    """The user's role does not allow this operation."""


class InvalidTransition(CoreError):
    """A state machine was asked for a move its transition table forbids."""


class ConflictError(CoreError):
    """The record changed underneath the caller."""


class StorageError(CoreError):
    """The database itself failed; `kind` is full, read_only, locked, corrupt, cannot_open, io,
    unreachable, auth, missing or other (core/db.py classifies driver errors)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class StripeError(CoreError):
    """A call to Stripe failed."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.request_id = request_id
        self.should_retry = should_retry


class StripeUnavailable(StripeError):
    """Network error, timeout or a 5xx answer."""

    retryable = True


class StripeRateLimited(StripeError):
    """A 429 answer."""

    retryable = True


class StripeAuthError(StripeError):
    """The API key is invalid, expired or revoked."""


class StripePermissionError(StripeError):
    """The API key lacks the permission for this call."""


class StripeRequestError(StripeError):
    """The request is invalid or names an object that does not exist."""


class StripeIdempotencyError(StripeError):
    """The idempotency key was already used with different parameters."""


class WebhookRejected(InputError):
    """A webhook delivery failed verification; `reason` is a short counter key."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class LlmUnavailable(CoreError):
    """The OpenAI-compatible endpoint failed or answered something unusable; drafts fall back."""


class AiBudgetSpent(LlmUnavailable):
    """The day's model budget (tokens or cost) is used up; no call is made until the next day."""
