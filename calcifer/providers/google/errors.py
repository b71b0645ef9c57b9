"""Google's error table, and the one boundary where SDK and transport exceptions become ours."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import httpx2
from google.genai import errors as genai_errors

from calcifer.errors import (
    ContextWindowExceeded,
    UpstreamAuthFailed,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from calcifer.providers.upstream_errors import ErrorRow, ErrorTable, VendorError

__all__ = ["ERROR_TABLE", "translated_errors"]


def _vendor_error(body: object) -> VendorError:
    """Google's error body: `{"error": {"code", "message", "status", "details"}}`. The
    precise code, when there is one, is the `reason` of an ErrorInfo detail
    (`API_KEY_INVALID`); otherwise the canonical `status` (`RESOURCE_EXHAUSTED`)."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return VendorError(None, "")
    reasons = [
        detail.get("reason")
        for detail in error.get("details") or ()
        if isinstance(detail, dict) and isinstance(detail.get("reason"), str)
    ]
    status = error.get("status")
    kind = reasons[0] if reasons else status if isinstance(status, str) else None
    return VendorError(kind, str(error.get("message") or ""))


# Gemini sends no code for a prompt over the context window: a plain INVALID_ARGUMENT whose
# message reads "The input token count (N) exceeds the maximum number of tokens allowed (M)".
_INPUT_TOO_LONG = re.compile(
    r"input token count.*exceeds|exceeds the maximum number of tokens", re.IGNORECASE
)

ERROR_TABLE = ErrorTable(
    [
        ErrorRow(None, "API_KEY_INVALID", UpstreamAuthFailed),  # sent as 400 INVALID_ARGUMENT
        ErrorRow(400, "INVALID_ARGUMENT", ContextWindowExceeded, _INPUT_TOO_LONG),
        ErrorRow(None, "INVALID_ARGUMENT", UpstreamRejected),
        ErrorRow(None, "NOT_FOUND", UpstreamRejected),
        ErrorRow(None, "UNAUTHENTICATED", UpstreamAuthFailed),
        ErrorRow(None, "PERMISSION_DENIED", UpstreamAuthFailed),
        # Billing or region of the gateway's project: not the client's fault; another deployment may serve.
        ErrorRow(None, "FAILED_PRECONDITION", UpstreamUnavailable),
        ErrorRow(None, "RESOURCE_EXHAUSTED", UpstreamRateLimited),
        ErrorRow(None, "DEADLINE_EXCEEDED", UpstreamTimeout),
        ErrorRow(None, "INTERNAL", UpstreamUnavailable),
        ErrorRow(None, "UNAVAILABLE", UpstreamUnavailable),
    ],
    _vendor_error,
)


def _retry_delay(body: object) -> str | None:
    """Seconds of a RetryInfo detail (`"retryDelay": "13s"`), which Gemini sends on 429
    instead of a Retry-After header."""
    error = body.get("error", body) if isinstance(body, dict) else None
    for detail in (error.get("details") or ()) if isinstance(error, dict) else ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            return delay.removesuffix("s")
    return None


@contextmanager
def translated_errors(provider: str) -> Iterator[None]:
    """The one place SDK and transport exceptions become Calcifer errors. It wraps the SDK's
    calls only: our translation and reading code stays outside, so a bug of ours is our 500."""
    try:
        yield
    except genai_errors.APIError as exc:
        headers = {k.lower(): v for k, v in (getattr(exc.response, "headers", None) or {}).items()}
        if "retry-after" not in headers and (delay := _retry_delay(exc.details)) is not None:
            headers["retry-after"] = delay
        raise ERROR_TABLE.error(provider, exc.code, exc.details, headers) from exc
    except (TimeoutError, httpx2.TimeoutException) as exc:
        raise UpstreamTimeout(f"Provider '{provider}' did not answer in time", provider=provider) from exc
    except (aiohttp.ClientError, httpx2.TransportError) as exc:
        raise UpstreamUnavailable(
            f"Provider '{provider}' could not be reached or dropped the connection", provider=provider
        ) from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # Raised inside the SDK while it parses the answer into its types: the answer is not
        # Gemini's documented format (a `finishReason` that is a number makes it raise
        # AttributeError, a wrong type a pydantic ValidationError).
        raise UpstreamProtocolError(
            f"Provider '{provider}' answered with something unreadable", provider=provider
        ) from exc
