"""The one table from errors to HTTP: status, OpenAI error `type` and `code`, log level.

Lookup walks the exception's MRO, so a new subclass inherits its parent's row until it
gets its own. Sanic's own exceptions (unknown route, body too large, timeouts) are
mapped here too, so every error a client sees has the same JSON shape:
`{"error": {"message", "type", "code", "param"}}`; one without a row of its own keeps the
status Sanic gives it. An error that a retry cannot fix says so with `x-should-retry: false`,
which the official OpenAI and Anthropic SDKs obey instead of retrying.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sanic import exceptions as sanic_exceptions

from calcifer import errors

__all__ = [
    "ERROR_TABLE",
    "SHOULD_RETRY_HEADER",
    "ErrorRow",
    "ErrorShape",
    "RequestHeadTooLarge",
    "error_row",
    "http_error",
    "openai_shape",
    "status_of",
]

SHOULD_RETRY_HEADER = "x-should-retry"

ErrorShape = Callable[[int, dict[str, Any]], dict[str, Any]]
"""An error body in a client dialect, from the status and the gateway's own body (the
OpenAI shape, `{"error": {...}}`): each dialect's routes answer errors in their clients' shape."""


def openai_shape(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """The gateway's own shape is OpenAI's: the body as it is."""
    return body


@dataclass(frozen=True, slots=True)
class ErrorRow:
    status: int
    type: str
    code: str
    log_level: str
    retry: bool = True
    """False: the same request will fail the same way (`x-should-retry: false`)."""


class RequestHeadTooLarge(sanic_exceptions.HTTPException):
    """The request line and headers are larger than the gateway reads; Sanic says 413."""

    status_code = 431
    quiet = True


ERROR_TABLE: dict[type[BaseException], ErrorRow] = {
    errors.AdminDisabled: ErrorRow(403, "permission_error", "admin_disabled", "WARNING", retry=False),
    errors.AdminDenied: ErrorRow(401, "authentication_error", "invalid_master_key", "WARNING", retry=False),
    errors.InvalidRequest: ErrorRow(400, "invalid_request_error", "invalid_request", "INFO", retry=False),
    errors.UnsupportedFeature: ErrorRow(
        400, "invalid_request_error", "unsupported_feature", "INFO", retry=False
    ),
    errors.ModelNotFound: ErrorRow(404, "invalid_request_error", "model_not_found", "INFO", retry=False),
    errors.ModelRetired: ErrorRow(410, "invalid_request_error", "model_retired", "INFO", retry=False),
    errors.ProviderMismatch: ErrorRow(400, "invalid_request_error", "provider_mismatch", "INFO", retry=False),
    errors.PayloadTooLarge: ErrorRow(413, "invalid_request_error", "payload_too_large", "INFO", retry=False),
    errors.UnsupportedMediaType: ErrorRow(
        415, "invalid_request_error", "unsupported_media_type", "INFO", retry=False
    ),
    errors.ResourceNotFound: ErrorRow(404, "invalid_request_error", "not_found", "INFO", retry=False),
    errors.Conflict: ErrorRow(409, "invalid_request_error", "conflict", "INFO", retry=False),
    errors.RequestError: ErrorRow(400, "invalid_request_error", "invalid_request", "INFO", retry=False),
    errors.InvalidApiKey: ErrorRow(401, "authentication_error", "invalid_api_key", "INFO", retry=False),
    errors.ModelNotAllowed: ErrorRow(403, "permission_error", "model_not_allowed", "INFO", retry=False),
    errors.BudgetExceeded: ErrorRow(402, "insufficient_quota", "budget_exceeded", "INFO", retry=False),
    errors.KeyRateLimited: ErrorRow(429, "rate_limit_error", "key_rate_limited", "INFO"),
    errors.AccessDenied: ErrorRow(403, "permission_error", "access_denied", "INFO", retry=False),
    errors.LimitsUnavailable: ErrorRow(503, "server_error", "limits_unavailable", "ERROR"),
    errors.StoreUnavailable: ErrorRow(503, "server_error", "store_unavailable", "ERROR"),
    errors.ProviderNotConfigured: ErrorRow(
        503, "server_error", "provider_not_configured", "WARNING", retry=False
    ),
    errors.ServerShuttingDown: ErrorRow(503, "server_error", "server_shutting_down", "WARNING"),
    errors.ContextWindowExceeded: ErrorRow(
        400, "invalid_request_error", "context_length_exceeded", "INFO", retry=False
    ),
    errors.UpstreamRejected: ErrorRow(400, "invalid_request_error", "upstream_rejected", "INFO", retry=False),
    errors.UpstreamRateLimited: ErrorRow(429, "rate_limit_error", "rate_limit_exceeded", "WARNING"),
    errors.UpstreamAuthFailed: ErrorRow(502, "upstream_error", "upstream_auth_failed", "ERROR", retry=False),
    errors.UpstreamUnavailable: ErrorRow(502, "upstream_error", "upstream_unavailable", "WARNING"),
    errors.UpstreamTimeout: ErrorRow(504, "timeout_error", "upstream_timeout", "WARNING"),
    errors.UpstreamBusy: ErrorRow(504, "timeout_error", "upstream_timeout", "WARNING"),
    errors.UpstreamProtocolError: ErrorRow(502, "upstream_error", "upstream_bad_response", "ERROR"),
    errors.DeploymentsUnavailable: ErrorRow(503, "upstream_error", "deployments_unavailable", "WARNING"),
    errors.UpstreamError: ErrorRow(502, "upstream_error", "upstream_error", "WARNING"),
    errors.CalciferError: ErrorRow(500, "server_error", "internal_error", "ERROR"),
    # The client left while its request was served: nobody reads this answer; the request's
    # own log line says 499 (nginx's "client closed request").
    sanic_exceptions.RequestCancelled: ErrorRow(
        499, "invalid_request_error", "client_closed_request", "INFO"
    ),
    sanic_exceptions.NotFound: ErrorRow(404, "invalid_request_error", "not_found", "INFO", retry=False),
    sanic_exceptions.MethodNotAllowed: ErrorRow(
        405, "invalid_request_error", "method_not_allowed", "INFO", retry=False
    ),
    sanic_exceptions.PayloadTooLarge: ErrorRow(
        413, "invalid_request_error", "payload_too_large", "INFO", retry=False
    ),
    sanic_exceptions.RequestTimeout: ErrorRow(408, "invalid_request_error", "request_timeout", "INFO"),
    sanic_exceptions.ServiceUnavailable: ErrorRow(504, "timeout_error", "response_timeout", "WARNING"),
    RequestHeadTooLarge: ErrorRow(
        431, "invalid_request_error", "request_header_fields_too_large", "INFO", retry=False
    ),
    sanic_exceptions.BadRequest: ErrorRow(400, "invalid_request_error", "bad_request", "INFO", retry=False),
    sanic_exceptions.SanicException: ErrorRow(500, "server_error", "internal_error", "ERROR"),
    BaseException: ErrorRow(500, "server_error", "internal_error", "ERROR"),
}

# Messages Sanic writes for its own exceptions are fine to show; these are clearer.
_SANIC_MESSAGES: dict[type[BaseException], str] = {
    sanic_exceptions.NotFound: "No such endpoint",
    sanic_exceptions.PayloadTooLarge: "The request body is larger than this gateway accepts",
    RequestHeadTooLarge: "The request line and headers are larger than this gateway accepts",
    sanic_exceptions.ServiceUnavailable: "The gateway did not finish answering in time",
}


def error_row(exc: BaseException) -> ErrorRow:
    for cls in type(exc).__mro__:
        if cls is sanic_exceptions.SanicException:
            return _sanic_row(exc)
        row = ERROR_TABLE.get(cls)
        if row is not None:
            return row
    return ERROR_TABLE[BaseException]


def _sanic_row(exc: BaseException) -> ErrorRow:
    """A Sanic exception with no row of its own (417 for an unknown `Expect`, 414, 416...):
    Sanic's status, and a code named after the class."""
    status = int(getattr(exc, "status_code", 500) or 500)
    if status >= 500:
        return ErrorRow(status, "server_error", "internal_error", "ERROR")
    code = _WORD_BREAK.sub("_", type(exc).__name__).lower()  # URITooLong → uri_too_long
    if type(exc) is sanic_exceptions.SanicException:
        code = "invalid_request"
    return ErrorRow(status, "invalid_request_error", code, "INFO", retry=status in _RETRYABLE_4XX)


_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# A client error that the same request may not meet again: a timeout, a conflict, a limit.
_RETRYABLE_4XX = frozenset({408, 409, 429})


def status_of(exc: BaseException) -> int:
    """The HTTP status for `exc`; an upstream rejection keeps the upstream's 4xx status."""
    if isinstance(exc, errors.UpstreamRejected) and exc.upstream_status and 400 <= exc.upstream_status < 500:
        return exc.upstream_status
    return error_row(exc).status


def http_error(
    exc: BaseException, request_id: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers of the error response for `exc`; never a stack trace."""
    row = error_row(exc)
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if (
        isinstance(exc, errors.UpstreamRateLimited | errors.DeploymentsUnavailable | errors.KeyRateLimited)
        and retry_after is not None
    ):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if not row.retry:
        headers[SHOULD_RETRY_HEADER] = "false"
    error: dict[str, Any] = {
        "message": _message(exc, request_id),
        "type": row.type,
        "code": row.code,
        "param": getattr(exc, "param", None),
    }
    if isinstance(exc, errors.UpstreamError):
        error["provider"] = exc.provider
    if isinstance(exc, errors.AccessDenied) and exc.scope is not None:
        error["scope"] = exc.scope
    if isinstance(exc, errors.BudgetExceeded):
        error["resets_at"] = exc.resets_at
    return status_of(exc), {"error": error}, headers


def _message(exc: BaseException, request_id: str | None) -> str:
    if isinstance(exc, errors.CalciferError):
        return exc.message
    for cls in type(exc).__mro__:
        if cls in _SANIC_MESSAGES:
            return _SANIC_MESSAGES[cls]
    if isinstance(exc, sanic_exceptions.SanicException) and error_row(exc).status < 500:
        return str(exc)
    return f"Internal error; quote request id {request_id} when reporting it"
