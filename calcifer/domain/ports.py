"""What the domain needs from outside, as protocols the composition root fills in.

Each port has an in-process implementation for one worker; `calcifer.state` supplies the
ones shared by the workers of a machine. The domain never knows which one it was given.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from contextlib import AbstractContextManager
from typing import Protocol

__all__ = ["WINDOW_BUCKETS", "BreakerCell", "BreakerFields", "BreakerStore"]

WINDOW_BUCKETS = 10
"""A breaker's error-rate window is kept as this many buckets of equal length."""


class BreakerFields(Protocol):
    """The numbers of one circuit breaker (see `calcifer.domain.breaker`)."""

    state: int
    failures_in_row: int
    opened_at: float
    """Monotonic time (the machine's clock, the same in every worker) the breaker last opened."""
    trial_in_flight: int
    """1 while a half-open trial is out; only the request that took it clears it."""
    trial_started: float
    """When the trial was taken (a trial out for a whole cooldown is given up)."""

    @property
    def bucket_index(self) -> MutableSequence[int]:
        """Which period of the clock each window bucket counts (`calcifer.domain.breaker`)."""

    @property
    def bucket_calls(self) -> MutableSequence[int]: ...

    @property
    def bucket_failures(self) -> MutableSequence[int]: ...


class BreakerCell(Protocol):
    """Where one breaker's numbers live; change them only while holding `lock`."""

    @property
    def fields(self) -> BreakerFields: ...

    @property
    def lock(self) -> AbstractContextManager[object]: ...


class BreakerStore(Protocol):
    """Breaker cells by deployment identity, for as long as the process lives."""

    def cell(self, identity: str) -> BreakerCell: ...
