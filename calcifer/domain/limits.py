"""Rate-limit windows, parallel requests and budget holds, as arithmetic over one scope's numbers.

Where the numbers live (a dict in one worker, a shared-memory slot for the workers of one
machine) is not this module's business: it reads and changes a `ScopeFields` under whatever
lock its caller holds, as `calcifer.domain.breaker` does for breakers. The Redis script in
`calcifer.state.counters_redis` mirrors it line for line.

- **Window**: 61 one-second buckets with running totals. A request counted in second `s`
  stays in the window until second `s + 61` begins, so every 60-second window sees it
  (conservative by up to one second; never the 2x a fixed window or token bucket allows).
- **Holds**: reservations (a parallel slot and money) in lease buckets by expiry time, with
  running totals; a bucket whose time has passed lapses by itself, no cleaner needed.
- **Spend**: the settled spend of the budget's current period in nano-dollars, tagged with
  the period's code; a different code means the spend is not known here yet (seed it).
"""

from __future__ import annotations

import math
from collections.abc import MutableSequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from calcifer.domain.access import AccessScope, BudgetPeriod, period_bounds
from calcifer.domain.ports import ScopeUsage

__all__ = [
    "LEASE_BUCKETS",
    "NO_USAGE",
    "UNKNOWN_PERIOD",
    "WINDOW_SECONDS",
    "PeriodCodes",
    "Refusal",
    "ScopeFields",
    "check",
    "lease_bucket_seconds",
    "nanos_ceil",
    "nanos_floor",
    "period_code",
    "release",
    "reserve",
    "settle_spend",
    "settle_tokens",
    "spend_known",
    "usage",
]

WINDOW_SECONDS = 61
"""One-second buckets counted: the current second and the 60 before it."""
LEASE_BUCKETS = 32
"""Expiry-time buckets for holds; a lease spans at most LEASE_BUCKETS - 2 of them."""
UNKNOWN_PERIOD = 0
"""The period code of spend not known yet (fresh memory is all zeros)."""
NO_USAGE = ScopeUsage(Decimal(0), Decimal(0), 0, 0, 0)
"""A scope the counters have not seen (or no longer remember)."""
_NANOS = Decimal(1_000_000_000)
_PERIOD_KIND = {BudgetPeriod.TOTAL: 1, BudgetPeriod.DAY: 2, BudgetPeriod.MONTH: 3}


class ScopeFields(Protocol):
    """The counters of one scope (a key or a team)."""

    window_second: int
    """The latest second the window was moved to; buckets older than it by 61 are gone."""
    window_requests: int
    window_tokens: int
    lease_now: int
    """The latest lease bucket number the holds were moved to (lapsed up to and including it)."""
    live_holds: int
    live_nanos: int
    period: int
    """The `period_code` `spent_nanos` belongs to; UNKNOWN_PERIOD: not known here."""
    spent_nanos: int

    @property
    def bucket_second(self) -> MutableSequence[int]:
        """Which second each of the WINDOW_SECONDS buckets counts."""

    @property
    def bucket_requests(self) -> MutableSequence[int]: ...

    @property
    def bucket_tokens(self) -> MutableSequence[int]: ...

    @property
    def lease_number(self) -> MutableSequence[int]:
        """Which lease bucket number each of the LEASE_BUCKETS slots holds."""

    @property
    def lease_holds(self) -> MutableSequence[int]: ...

    @property
    def lease_nanos(self) -> MutableSequence[int]: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a demand cannot be admitted now."""

    what: str
    """`rpm`, `tpm`, `tpm_request` (its own estimate is over the limit), `parallel`, `budget`."""
    retry_after: float
    """Seconds until the window admits it (rate limits)."""


def nanos_ceil(usd: Decimal) -> int:
    """Money as whole nano-dollars, rounded up (spend and holds are never under-stated)."""
    return int((usd * _NANOS).to_integral_value(ROUND_CEILING))


def nanos_floor(usd: Decimal) -> int:
    """A limit as whole nano-dollars, rounded down (a budget is never over-stated)."""
    return int((usd * _NANOS).to_integral_value(ROUND_FLOOR))


def period_code(period: BudgetPeriod, now: float) -> tuple[int, float | None]:
    """A number naming the budget period that contains `now` (never UNKNOWN_PERIOD), and its end."""
    start, end = period_bounds(period, datetime.fromtimestamp(now, UTC))
    start_second = int(start.timestamp()) if start is not None else 0
    return start_second * 4 + _PERIOD_KIND[period], end.timestamp() if end is not None else None


class PeriodCodes:
    """`period_code`, worked out once per period (a few microseconds saved per request)."""

    def __init__(self) -> None:
        self._current: dict[BudgetPeriod, tuple[int, float, float | None]] = {}

    def code(self, period: BudgetPeriod, now: float) -> tuple[int, float | None]:
        known = self._current.get(period)
        if known is not None and known[1] <= now and (known[2] is None or now < known[2]):
            return known[0], known[2]
        code, end = period_code(period, now)
        start, _ = period_bounds(period, datetime.fromtimestamp(now, UTC))
        self._current[period] = (code, start.timestamp() if start is not None else 0.0, end)
        return code, end


def lease_bucket_seconds(lease_seconds: float) -> float:
    """The length of one lease bucket, so that a whole lease fits in the ring."""
    return max(lease_seconds, 1.0) / (LEASE_BUCKETS - 2)


def spend_known(fields: ScopeFields, code: int) -> bool:
    return fields.period == code


def check(
    fields: ScopeFields, scope: AccessScope, hold_nanos: int, tokens: int, now: float, lease_now: int
) -> Refusal | None:
    """Whether one more request (holding `hold_nanos` and `tokens`) fits every limit of the scope.
    Moves the window and the holds to `now` first; the budget's spend must be known."""
    second = math.floor(now)
    _advance_window(fields, second)
    _advance_leases(fields, lease_now)
    limits = scope.limits
    if limits.requests_per_minute is not None and fields.window_requests + 1 > limits.requests_per_minute:
        wait = _wait_for_window(
            fields, fields.bucket_requests, 1 + fields.window_requests - limits.requests_per_minute
        )
        return Refusal("rpm", wait - (now - second))
    if limits.tokens_per_minute is not None:
        if tokens > limits.tokens_per_minute:
            return Refusal("tpm_request", 60.0)
        excess = fields.window_tokens + tokens - limits.tokens_per_minute
        if excess > 0:
            return Refusal("tpm", _wait_for_window(fields, fields.bucket_tokens, excess) - (now - second))
    if limits.max_parallel is not None and fields.live_holds + 1 > limits.max_parallel:
        return Refusal("parallel", 1.0)
    budget = scope.budget
    if budget is not None and fields.spent_nanos + fields.live_nanos + hold_nanos > nanos_floor(
        budget.limit_usd
    ):
        return Refusal("budget", 0.0)
    return None


def reserve(fields: ScopeFields, hold_nanos: int, tokens: int, second: int, lease_number: int) -> None:
    """Count the request in `second`'s bucket and hold it in lease bucket `lease_number`
    (after `check` admitted it, under the same lock)."""
    slot = second % WINDOW_SECONDS
    if fields.bucket_second[slot] != second:
        fields.bucket_second[slot] = second
        fields.bucket_requests[slot] = 0
        fields.bucket_tokens[slot] = 0
    fields.bucket_requests[slot] += 1
    fields.bucket_tokens[slot] += tokens
    fields.window_requests += 1
    fields.window_tokens += tokens
    ring = lease_number % LEASE_BUCKETS
    if fields.lease_number[ring] != lease_number:
        fields.lease_number[ring] = lease_number
        fields.lease_holds[ring] = 0
        fields.lease_nanos[ring] = 0
    fields.lease_holds[ring] += 1
    fields.lease_nanos[ring] += hold_nanos
    fields.live_holds += 1
    fields.live_nanos += hold_nanos


def release(fields: ScopeFields, hold_nanos: int, lease_number: int, lease_now: int) -> None:
    """Give back a hold, unless its lease bucket has lapsed already (then it is gone)."""
    _advance_leases(fields, lease_now)
    ring = lease_number % LEASE_BUCKETS
    if lease_number > fields.lease_now and fields.lease_number[ring] == lease_number:
        fields.lease_holds[ring] -= 1
        fields.lease_nanos[ring] -= hold_nanos
        fields.live_holds -= 1
        fields.live_nanos -= hold_nanos


def settle_tokens(fields: ScopeFields, second: int, reserved: int, actual: int, now: float) -> None:
    """Correct the tokens counted at admission to the actual count, if still in the window."""
    _advance_window(fields, math.floor(now))
    slot = second % WINDOW_SECONDS
    if fields.bucket_second[slot] == second and second > fields.window_second - WINDOW_SECONDS:
        fields.bucket_tokens[slot] += actual - reserved
        fields.window_tokens += actual - reserved


def settle_spend(fields: ScopeFields, code: int, cost_nanos: int) -> None:
    """Add a settled cost to the period's spend; spend not known here is left to the seed
    (which reads the ledger, where this cost is recorded too)."""
    if fields.period == code:
        fields.spent_nanos += cost_nanos


def usage(fields: ScopeFields, code: int | None, now: float, lease_now: int) -> ScopeUsage:
    """What the scope uses at `now`, summed from the buckets without moving them (a read
    changes nothing): the seconds still in the window, the lease buckets not lapsed, and the
    spend of budget period `code` if known here (None: no budget)."""
    newest = max(math.floor(now), fields.window_second)
    requests = tokens = 0
    for slot in range(WINDOW_SECONDS):
        if fields.bucket_second[slot] > newest - WINDOW_SECONDS:
            requests += fields.bucket_requests[slot]
            tokens += fields.bucket_tokens[slot]
    lapsed = max(lease_now, fields.lease_now)
    holds = nanos = 0
    for ring in range(LEASE_BUCKETS):
        if fields.lease_number[ring] > lapsed:
            holds += fields.lease_holds[ring]
            nanos += fields.lease_nanos[ring]
    spent = fields.spent_nanos if code is not None and fields.period == code else 0
    return ScopeUsage(Decimal(spent) / _NANOS, Decimal(nanos) / _NANOS, requests, tokens, holds)


def _advance_window(fields: ScopeFields, second: int) -> None:
    """Drop the buckets that left the window; each second is dropped once (amortised O(1))."""
    latest = fields.window_second
    if second <= latest:
        return
    fields.window_second = second
    if second - latest >= WINDOW_SECONDS:  # every bucket has left (their seconds say so)
        fields.window_requests = 0
        fields.window_tokens = 0
        return
    for gone in range(latest - WINDOW_SECONDS + 1, second - WINDOW_SECONDS + 1):
        slot = gone % WINDOW_SECONDS
        if fields.bucket_second[slot] == gone:
            fields.window_requests -= fields.bucket_requests[slot]
            fields.window_tokens -= fields.bucket_tokens[slot]
            fields.bucket_requests[slot] = 0
            fields.bucket_tokens[slot] = 0


def _advance_leases(fields: ScopeFields, lease_now: int) -> None:
    """Lapse the holds whose lease bucket has ended."""
    latest = fields.lease_now
    if lease_now <= latest:
        return
    fields.lease_now = lease_now
    if lease_now - latest >= LEASE_BUCKETS:  # every live bucket was numbered below lease_now
        fields.live_holds = 0
        fields.live_nanos = 0
        return
    for number in range(latest + 1, lease_now + 1):
        ring = number % LEASE_BUCKETS
        if fields.lease_number[ring] == number:
            fields.live_holds -= fields.lease_holds[ring]
            fields.live_nanos -= fields.lease_nanos[ring]
            fields.lease_holds[ring] = 0
            fields.lease_nanos[ring] = 0


def _wait_for_window(fields: ScopeFields, counts: MutableSequence[int], excess: int) -> float:
    """Whole seconds from the current second's start until buckets holding `excess` have left."""
    oldest = fields.window_second - WINDOW_SECONDS + 1
    dropped = 0
    for second in range(oldest, fields.window_second + 1):
        slot = second % WINDOW_SECONDS
        if fields.bucket_second[slot] == second:
            dropped += counts[slot]
            if dropped >= excess:
                return float(second + WINDOW_SECONDS - fields.window_second)
    return float(WINDOW_SECONDS)
