"""When and how long to wait before calling a provider again.

One policy per provider, and the only retries in the gateway: vendor SDK retries are off,
so a failing request is never retried by two layers at once. A request is retried only
before its first byte has reached the client; what has been streamed cannot be taken back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from calcifer.errors import (
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = ["RetryPolicy"]

_RETRYABLE = (UpstreamUnavailable, UpstreamTimeout, UpstreamRateLimited, UpstreamProtocolError)
"""A malformed answer is retried like a dropped connection: the next one is usually fine."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    """Calls in all, the first included."""
    base_delay: float = 0.25
    """Seconds; the n-th retry waits a random time up to base_delay × 2ⁿ (full jitter)."""
    max_delay: float = 8.0
    """Cap on the backoff between two attempts."""
    max_retry_after: float = 20.0
    """A provider's Retry-After longer than this is not waited for: the error goes back at once."""

    def delay(self, attempt: int, error: UpstreamError) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None when it should not be made."""
        if attempt + 1 >= self.attempts or not isinstance(error, _RETRYABLE):
            return None
        if isinstance(error, UpstreamRateLimited) and error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
