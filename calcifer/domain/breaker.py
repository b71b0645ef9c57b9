"""A circuit breaker per deployment: stop sending requests to an upstream that keeps failing.

    closed ──(N failures in a row, or error rate over the window)──▶ open
    open ──(cooldown elapsed)──▶ half-open: one trial request
    half-open ──trial succeeds──▶ closed;  ──trial fails──▶ open again

Only failures of the upstream count (5xx, timeouts, dropped connections, rate limits);
errors caused by the request itself never trip it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DEFAULT_BREAKER", "BreakerSettings", "BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    consecutive_failures: int = 5
    """Failures in a row that open the breaker."""
    error_rate: float = 0.5
    """Share of failed calls in the window that opens it..."""
    min_calls: int = 20
    """...once the window holds at least this many calls."""
    window_seconds: float = 30.0
    cooldown_seconds: float = 30.0
    """How long it stays open before one trial request is let through."""


DEFAULT_BREAKER = BreakerSettings()


class CircuitBreaker:
    def __init__(
        self,
        settings: BreakerSettings = DEFAULT_BREAKER,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures_in_row = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._calls: deque[tuple[float, bool]] = deque()

    @property
    def state(self) -> BreakerState:
        return self._state

    def available(self) -> bool:
        """Whether a request may go to this deployment now (does not take the trial slot)."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            return self.cooldown_remaining() <= 0
        return not self._trial_in_flight

    def acquire(self) -> None:
        """A request is about to be sent: an open breaker past its cooldown lets it be the trial."""
        if self._state is BreakerState.OPEN and self.cooldown_remaining() <= 0:
            self._move(BreakerState.HALF_OPEN)
        if self._state is BreakerState.HALF_OPEN:
            self._trial_in_flight = True

    def release(self) -> None:
        """The request ended without saying anything about the upstream's health."""
        self._trial_in_flight = False

    def succeeded(self) -> None:
        self._record(ok=True)
        self._failures_in_row = 0
        self._trial_in_flight = False
        if self._state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED)

    def failed(self) -> None:
        self._record(ok=False)
        self._failures_in_row += 1
        self._trial_in_flight = False
        if self._state is BreakerState.HALF_OPEN or self._should_open():
            self._opened_at = self._clock()
            if self._state is not BreakerState.OPEN:
                self._move(BreakerState.OPEN)

    def cooldown_remaining(self) -> float:
        if self._state is BreakerState.CLOSED:
            return 0.0
        return max(0.0, self._opened_at + self._settings.cooldown_seconds - self._clock())

    def _should_open(self) -> bool:
        settings = self._settings
        if self._failures_in_row >= settings.consecutive_failures:
            return True
        if len(self._calls) < settings.min_calls:
            return False
        failures = sum(1 for _, ok in self._calls if not ok)
        return failures / len(self._calls) > settings.error_rate

    def _record(self, *, ok: bool) -> None:
        now = self._clock()
        self._calls.append((now, ok))
        horizon = now - self._settings.window_seconds
        while self._calls and self._calls[0][0] < horizon:
            self._calls.popleft()

    def _move(self, state: BreakerState) -> None:
        previous, self._state = self._state, state
        if self._on_change is not None:
            self._on_change(previous, state)
