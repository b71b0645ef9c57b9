"""A circuit breaker per deployment: stop sending requests to an upstream that keeps failing.

    closed ──(error rate over the window, or N failures in a row when set)──▶ open
    open ──(cooldown elapsed)──▶ half-open: one trial request
    half-open ──trial succeeds──▶ closed;  ──trial fails──▶ open again

Only the trial moves a breaker that is not closed: the outcome of a call sent before it opened
is counted in the window but closes nothing, reopens nothing. `acquire` hands out the trial
(check and take in one hold of the cell's lock), and only its holder gives it back.

Only failures of the upstream count (5xx, timeouts, dropped connections, rate limits);
errors caused by the request itself never trip it.

The breaker's numbers live in a `BreakerCell` (`calcifer.domain.ports`), so that the workers
of one machine can share one breaker per deployment: the logic here reads and changes the
cell under its lock, and never keeps state of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from calcifer.domain.ports import WINDOW_BUCKETS, BreakerCell, BreakerFields
from calcifer.errors import UpstreamProtocolError, UpstreamRateLimited, UpstreamTimeout, UpstreamUnavailable

__all__ = [
    "DEFAULT_BREAKER",
    "UPSTREAM_FAULTS",
    "Admission",
    "BreakerSettings",
    "BreakerState",
    "CircuitBreaker",
    "LocalBreakerCell",
]

UPSTREAM_FAULTS = (UpstreamUnavailable, UpstreamTimeout, UpstreamRateLimited, UpstreamProtocolError)
"""Failures of the upstream itself, streamed or not: they count against a deployment's breaker,
and a request moves on to another deployment or a fallback. Every other error (the request's
own, our own, a client gone, the gateway's connection cap) says nothing of the upstream."""


class Admission(IntEnum):
    """What `CircuitBreaker.acquire` answers: false when the request may not be sent."""

    REFUSED = 0
    REGULAR = 1
    TRIAL = 2
    """This request is the half-open trial: its outcome closes or reopens the breaker."""


class BreakerState(IntEnum):
    """Stored as an integer (a shared cell holds numbers); shown by name."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    consecutive_failures: int = 0
    """Failed requests in a row that open the breaker; 0 (the default): this rule is off, the
    error rate decides (a run of random faults is no reason to shed every request)."""
    error_rate: float = 0.5
    """Share of failed requests in the window that opens it..."""
    min_calls: int = 20
    """...once the window holds at least this many requests (each counted once: a request's
    retries on the same deployment are not counted again, see `calcifer.domain.gateway`)."""
    window_seconds: float = 30.0
    cooldown_seconds: float = 30.0
    """How long it stays open before one trial request is let through."""


DEFAULT_BREAKER = BreakerSettings()
_NEVER = -(1 << 62)
"""The bucket number of a window bucket that has not been used yet."""


class _Fields:
    __slots__ = (
        "bucket_calls",
        "bucket_failures",
        "bucket_index",
        "failures_in_row",
        "opened_at",
        "state",
        "trial_in_flight",
        "trial_started",
    )

    def __init__(self) -> None:
        self.state = 0
        self.failures_in_row = 0
        self.opened_at = 0.0
        self.trial_in_flight = 0
        self.trial_started = 0.0
        self.bucket_index = [_NEVER] * WINDOW_BUCKETS
        self.bucket_calls = [0] * WINDOW_BUCKETS
        self.bucket_failures = [0] * WINDOW_BUCKETS


class _NoLock:
    """One worker's breaker needs no lock: the event loop runs one change at a time."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class LocalBreakerCell:
    """A breaker's numbers in this process only."""

    __slots__ = ("fields", "lock")

    def __init__(self) -> None:
        self.fields: BreakerFields = _Fields()
        self.lock = _NoLock()


class CircuitBreaker:
    def __init__(
        self,
        settings: BreakerSettings = DEFAULT_BREAKER,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
        cell: BreakerCell | None = None,
    ) -> None:
        self.settings = settings
        """Replaced in place when a reload changes the provider's breaker settings."""
        self._clock = clock
        self._on_change = on_change
        self._cell: BreakerCell = cell or LocalBreakerCell()
        self._moved: tuple[BreakerState, BreakerState] | None = None

    @property
    def state(self) -> BreakerState:
        return BreakerState(self._cell.fields.state)

    def available(self) -> bool:
        """Whether a request may go to this deployment now (a hint: `acquire` decides)."""
        if self._cell.fields.state == BreakerState.CLOSED:  # one read, no lock: the common case
            return True
        with self._cell.lock:
            return self._available(self._cell.fields)

    def acquire(self) -> Admission:
        """A request is about to be sent: may it go, and is it the half-open trial? Checked and
        taken in one hold of the cell's lock, so two workers never both send a trial."""
        if self._cell.fields.state == BreakerState.CLOSED:
            return Admission.REGULAR
        with self._cell.lock:
            fields = self._cell.fields
            if fields.state == BreakerState.OPEN and self._cooldown_left(fields) <= 0:
                self._move(fields, BreakerState.HALF_OPEN)
            admission = self._take_trial(fields)
        self._notify()
        return admission

    def release(self, trial: bool = False) -> None:
        """The request ended without saying anything about the upstream's health."""
        if trial:
            with self._cell.lock:
                self._cell.fields.trial_in_flight = 0

    def succeeded(self, trial: bool = False) -> None:
        """A call succeeded; only the trial (`acquire` said so) closes a breaker that is not
        closed: a success sent before it opened says nothing of the upstream since."""
        with self._cell.lock:
            fields = self._cell.fields
            self._record(fields, ok=True)
            if fields.state == BreakerState.CLOSED:
                fields.failures_in_row = 0
            elif trial and fields.state == BreakerState.HALF_OPEN:
                fields.trial_in_flight = 0
                fields.failures_in_row = 0
                self._move(fields, BreakerState.CLOSED)
        self._notify()

    def failed(self, trial: bool = False) -> None:
        """A call failed; a failed trial opens the breaker for another cooldown, and a failure
        sent before it opened neither reopens nor prolongs it."""
        with self._cell.lock:
            fields = self._cell.fields
            self._record(fields, ok=False)
            if fields.state == BreakerState.CLOSED:
                fields.failures_in_row += 1
                if self._should_open(fields):
                    fields.opened_at = self._clock()
                    self._move(fields, BreakerState.OPEN)
            elif trial and fields.state == BreakerState.HALF_OPEN:
                fields.trial_in_flight = 0
                fields.opened_at = self._clock()
                self._move(fields, BreakerState.OPEN)
        self._notify()

    def cooldown_remaining(self) -> float:
        with self._cell.lock:
            return self._cooldown_left(self._cell.fields)

    def _available(self, fields: BreakerFields) -> bool:
        if fields.state == BreakerState.CLOSED:
            return True
        if fields.state == BreakerState.OPEN:
            return self._cooldown_left(fields) <= 0
        return not fields.trial_in_flight or self._trial_abandoned(fields)

    def _take_trial(self, fields: BreakerFields) -> Admission:
        if fields.state == BreakerState.CLOSED:
            return Admission.REGULAR
        if fields.state == BreakerState.OPEN or not self._available(fields):
            return Admission.REFUSED
        fields.trial_in_flight = 1
        fields.trial_started = self._clock()
        return Admission.TRIAL

    def _trial_abandoned(self, fields: BreakerFields) -> bool:
        """A trial with no verdict after a whole cooldown is given up (its worker may have died
        holding it), so a breaker is never stuck half-open."""
        return self._clock() - fields.trial_started >= self.settings.cooldown_seconds

    def _cooldown_left(self, fields: BreakerFields) -> float:
        if fields.state == BreakerState.CLOSED:
            return 0.0
        return max(0.0, fields.opened_at + self.settings.cooldown_seconds - self._clock())

    def _should_open(self, fields: BreakerFields) -> bool:
        settings = self.settings
        if 0 < settings.consecutive_failures <= fields.failures_in_row:
            return True
        calls, failures = self._window_totals(fields)
        if calls < settings.min_calls:
            return False
        return failures / calls > settings.error_rate

    def _bucket_index(self) -> int:
        """The window is kept as WINDOW_BUCKETS buckets of equal length, numbered by time."""
        return int(self._clock() * WINDOW_BUCKETS / self.settings.window_seconds)

    def _record(self, fields: BreakerFields, *, ok: bool) -> None:
        index = self._bucket_index()
        slot = index % WINDOW_BUCKETS
        if fields.bucket_index[slot] != index:  # the bucket holds an older period: start it anew
            fields.bucket_index[slot] = index
            fields.bucket_calls[slot] = 0
            fields.bucket_failures[slot] = 0
        fields.bucket_calls[slot] += 1
        if not ok:
            fields.bucket_failures[slot] += 1

    def _window_totals(self, fields: BreakerFields) -> tuple[int, int]:
        oldest = self._bucket_index() - WINDOW_BUCKETS + 1
        calls = failures = 0
        for slot in range(WINDOW_BUCKETS):
            if fields.bucket_index[slot] >= oldest:
                calls += fields.bucket_calls[slot]
                failures += fields.bucket_failures[slot]
        return calls, failures

    def _move(self, fields: BreakerFields, state: BreakerState) -> None:
        self._moved = (BreakerState(fields.state), state)
        fields.state = int(state)

    def _notify(self) -> None:
        """Tell of a change once the cell's lock is released (a shared lock is held briefly)."""
        if self._moved is not None:
            (previous, state), self._moved = self._moved, None
            if self._on_change is not None:
                self._on_change(previous, state)
