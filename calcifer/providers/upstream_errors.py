"""Vendor-neutral pieces of error translation that every adapter shares.

Each adapter catches its own SDK's exceptions (the SDK is imported only there) and hands
the status, message and headers to `from_status`, so that an HTTP status means the same
thing whichever provider returned it.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from calcifer.errors import (
    ContextWindowExceeded,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)

__all__ = ["StatusErrorMapper", "from_status", "json_object", "retry_after_seconds", "unreadable"]

StatusErrorMapper = Callable[[str, int, bytes, Mapping[str, str]], UpstreamError]
"""(provider id, HTTP status, raw error body, response headers) → our error: a vendor's table."""

# How OpenAI, Anthropic, Gemini and the OpenAI-compatible servers word a prompt that is too long.
_CONTEXT_OVERFLOW = re.compile(
    r"context.length|context.window|maximum context|prompt is too long|too many tokens"
    r"|input token count.*exceeds|reduce the length",
    re.IGNORECASE,
)


def from_status(provider: str, status: int, message: str, headers: Mapping[str, str]) -> UpstreamError:
    """The Calcifer error for an upstream HTTP error status."""
    if status in (401, 403):
        # The upstream's own message may quote part of our key; it is not passed on.
        return UpstreamAuthFailed(
            f"Provider '{provider}' refused the gateway's credentials (HTTP {status})",
            provider=provider,
            status=status,
        )
    if status == 429:
        return UpstreamRateLimited(
            f"Provider '{provider}' is rate limiting: {message}",
            provider=provider,
            retry_after=retry_after_seconds(headers),
        )
    if status in (408, 409) or status >= 500:
        return UpstreamUnavailable(
            f"Provider '{provider}' failed (HTTP {status}): {message}", provider=provider, status=status
        )
    if status in (400, 413) and _CONTEXT_OVERFLOW.search(message):
        return ContextWindowExceeded(message, provider=provider, status=status)
    return UpstreamRejected(message, provider=provider, status=status)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


def unreadable(provider: str, what: str) -> UpstreamProtocolError:
    """The error for a provider that answered with something other than its wire format."""
    return UpstreamProtocolError(f"Provider '{provider}' answered with {what}", provider=provider)


def json_object(provider: str, payload: bytes | str, what: str) -> dict[str, Any]:
    """`payload` parsed as a JSON object, or `unreadable` naming `what` was expected."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise unreadable(provider, f"{what} that is not JSON") from exc
    if not isinstance(value, dict):
        raise unreadable(provider, f"{what} that is not an object")
    return value
