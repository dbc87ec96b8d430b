"""Stripe's error JSON, raised as one exception type and rendered by the HTTP layer."""

from __future__ import annotations

from typing import Any

DOC_BASE = "https://stripe.com/docs/error-codes/"


class ApiError(Exception):
    """An error answered to the client in Stripe's `{"error": {...}}` shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON body Stripe sends for this error."""
        err: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOC_BASE + self.code.replace("_", "-")
        if self.param:
            err["param"] = self.param
        err.update(self.extra)
        err["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": err}


def missing(kind: str, obj_id: str, param: str = "id") -> ApiError:
    """404 `resource_missing` in Stripe's words."""
    return ApiError(404, f"No such {kind}: '{obj_id}'", code="resource_missing", param=param)


def unknown_param(name: str) -> ApiError:
    """400 `parameter_unknown` for a parameter the endpoint does not take."""
    return ApiError(
        400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
    )


def invalid(param: str, message: str, code: str | None = "parameter_invalid_empty") -> ApiError:
    """400 for a parameter with a bad value."""
    return ApiError(400, message, code=code, param=param)


def unrecognized_url(method: str, path: str) -> ApiError:
    """404 for an endpoint Stripe does not have."""
    return ApiError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )
