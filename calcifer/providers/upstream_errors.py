"""Vendor-neutral pieces of error translation that every adapter shares.

Each vendor module keeps one `ErrorTable`: rows from (HTTP status, the vendor's error
type or code) to a class of `calcifer.errors`, read top to bottom; a status no row names
falls back to what the status means for every provider (`from_status`). The table is a
`StatusErrorMapper`, the form the forwarding path takes (`Forwarder(status_error=...)`).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calcifer.errors import (
    ContextWindowExceeded,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "ErrorRow",
    "ErrorTable",
    "StatusErrorMapper",
    "VendorError",
    "error_message",
    "from_status",
    "generic_status_error",
    "json_object",
    "retry_after_seconds",
    "unreadable",
]

StatusErrorMapper = Callable[[str, int, bytes, Mapping[str, str]], UpstreamError]
"""(provider id, HTTP status, raw error body, response headers) → the error to raise."""

# How OpenAI-compatible servers that send no error code word a prompt that is too long.
_CONTEXT_OVERFLOW = re.compile(
    r"context.length|context.window|maximum context|prompt is too long|too many tokens"
    r"|input token count.*exceeds|reduce the length",
    re.IGNORECASE,
)


def from_status(provider: str, status: int, message: str, headers: Mapping[str, str]) -> UpstreamError:
    """The Calcifer error for an upstream HTTP error status, whoever sent it."""
    if status in (400, 413) and _CONTEXT_OVERFLOW.search(message):
        return _build(ContextWindowExceeded, provider, status, message, headers)
    return _build(_by_status(status), provider, status, message, headers)


def generic_status_error(
    provider: str, status: int, body: bytes, headers: Mapping[str, str]
) -> UpstreamError:
    """The default `StatusErrorMapper`: `from_status` on the body's `error.message`."""
    return from_status(provider, status, error_message(body, status), headers)


@dataclass(frozen=True, slots=True)
class VendorError:
    """What a vendor's error body says: its error type or code, and its message."""

    kind: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """One row of a vendor's error table. `None` matches any status / any kind.
    `message`, when set, must also match: only for vendors that send no code for it."""

    status: int | None
    kind: str | None
    error: type[UpstreamError]
    message: re.Pattern[str] | None = None

    def matches(self, status: int | None, found: VendorError) -> bool:
        return (
            (self.status is None or self.status == status)
            and (self.kind is None or self.kind == found.kind)
            and (self.message is None or self.message.search(found.message) is not None)
        )


class ErrorTable:
    """A vendor's error table; calling it is its `StatusErrorMapper`."""

    def __init__(self, rows: Sequence[ErrorRow], read: Callable[[Any], VendorError]) -> None:
        self.rows = tuple(rows)
        self._read = read

    def __call__(self, provider: str, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        return self.error(provider, status, parsed, headers)

    def error(
        self, provider: str, status: int | None, body: Any, headers: Mapping[str, str] | None = None
    ) -> UpstreamError:
        """The error for a parsed error body; `status` None for an error sent mid-stream."""
        found = self._read(body)
        if not found.message:
            found = VendorError(found.kind, f"HTTP {status}" if status else "no message")
        return _build(self.classify(status, found), provider, status, found.message, headers or {})

    def classify(self, status: int | None, found: VendorError) -> type[UpstreamError]:
        for row in self.rows:
            if row.matches(status, found):
                return row.error
        return UpstreamUnavailable if status is None else _by_status(status)


def _by_status(status: int) -> type[UpstreamError]:
    if status in (401, 403):
        return UpstreamAuthFailed
    if status == 429:
        return UpstreamRateLimited
    if status in (408, 409) or status >= 500:
        return UpstreamUnavailable
    return UpstreamRejected


def _build(
    kind: type[UpstreamError], provider: str, status: int | None, message: str, headers: Mapping[str, str]
) -> UpstreamError:
    if issubclass(kind, UpstreamAuthFailed):
        # The upstream's own message may quote part of our key; it is not passed on.
        return kind(
            f"Provider '{provider}' refused the gateway's credentials (HTTP {status})",
            provider=provider,
            status=status,
        )
    if issubclass(kind, UpstreamRateLimited):
        return kind(
            f"Provider '{provider}' is rate limiting: {message}",
            provider=provider,
            retry_after=retry_after_seconds(headers),
        )
    if issubclass(kind, UpstreamRejected):
        return kind(message, provider=provider, status=status)
    where = f"(HTTP {status})" if status is not None else "mid-stream"
    if issubclass(kind, UpstreamTimeout):
        return kind(f"Provider '{provider}' timed out {where}: {message}", provider=provider, status=status)
    return kind(f"Provider '{provider}' failed {where}: {message}", provider=provider, status=status)


def error_message(payload: bytes, status: int) -> str:
    """The `error.message` of an error body (OpenAI's, Anthropic's and Google's shape)."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return f"HTTP {status}"
    error = body.get("error", body) if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message) if message else f"HTTP {status}"


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
