"""How one request goes through the gateway: who it is for, its deadlines, its attempts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from calcifer.domain.access import ANONYMOUS, Principal

__all__ = ["Trail"]

_DEADLINE_SLACK = 0.005
"""Seconds: a deadline this close has passed (a timer fires a hair early or late)."""


@dataclass(slots=True)
class Trail:
    """How one request goes: who it is for, the deadlines it must keep, attempts so far."""

    deadline: float | None
    """Monotonic time by which a non-streamed answer must be whole, or a stream have started."""
    seconds: float = 0.0
    """How long that was from the start, for messages."""
    stream_deadline: float | None = None
    """Monotonic time by which a whole stream must have ended: only a client's own deadline."""
    principal: Principal = ANONYMOUS
    attempts: int = 0
    started: float = field(default_factory=time.time)  # epoch seconds: the price list then in force
    attempts_left: int = 1
    """Attempts this model may still make, this one included: a stream's wait for its first
    chunk is shared among them, so that a silent start leaves time to retry."""

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.deadline is not None and self.deadline - time.monotonic() <= _DEADLINE_SLACK

    def first_byte_wait(self, limit: float | None) -> float | None:
        remaining = self.remaining()
        if remaining is None:
            return limit
        # Half the time left when another attempt may follow, all of it for the last: the first
        # attempt gets the most (a model that thinks before its first chunk is not cut early),
        # and a silent start still leaves time for every retry (50 s: 25, 12.5, 6.25, 6.25).
        share = remaining if self.attempts_left <= 1 else remaining / 2
        return share if limit is None else min(limit, share)
