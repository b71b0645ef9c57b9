"""Anthropic's error table: (status, error type) → our error class."""

from __future__ import annotations

import re

from calcifer.errors import (
    ContextWindowExceeded,
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from calcifer.providers.upstream_errors import ErrorRow, ErrorTable, VendorError

__all__ = ["ERROR_TABLE"]


def _vendor_error(body: object) -> VendorError:
    """Anthropic's error body: `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return VendorError(None, "")
    kind = error.get("type")
    return VendorError(kind if isinstance(kind, str) else None, str(error.get("message") or kind or ""))


# Anthropic sends no code for a prompt over the context window: a plain invalid_request_error
# whose message reads "prompt is too long: N tokens > M maximum". Its docs warn that wording
# may change; the message is all there is, so this one row reads it.
_PROMPT_TOO_LONG = re.compile(r"prompt is too long", re.IGNORECASE)

ERROR_TABLE = ErrorTable(
    [
        ErrorRow(400, "invalid_request_error", ContextWindowExceeded, _PROMPT_TOO_LONG),
        ErrorRow(None, "invalid_request_error", UpstreamRejected),
        ErrorRow(None, "request_too_large", UpstreamRejected),
        ErrorRow(None, "not_found_error", UpstreamRejected),
        ErrorRow(None, "authentication_error", UpstreamAuthFailed),
        ErrorRow(None, "permission_error", UpstreamAuthFailed),
        # The gateway's account is out of credit: not the client's fault; another deployment may serve.
        ErrorRow(None, "billing_error", UpstreamUnavailable),
        ErrorRow(None, "rate_limit_error", UpstreamRateLimited),
        ErrorRow(None, "timeout_error", UpstreamTimeout),
        ErrorRow(None, "api_error", UpstreamUnavailable),
        ErrorRow(None, "overloaded_error", UpstreamUnavailable),
    ],
    _vendor_error,
)
