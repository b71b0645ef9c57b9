"""What the domain needs from outside, as protocols the composition root fills in.

Each port has an in-process implementation for one worker; `calcifer.state` supplies the
ones shared by the workers of a machine (and, with Redis, by every replica), `calcifer.store`
the durable ones (SQLite or PostgreSQL). The domain never knows which one it was given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableSequence, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from calcifer.domain.access import AccessScope, BudgetPeriod, Team, VirtualKey

__all__ = [
    "WINDOW_BUCKETS",
    "BreakerCell",
    "BreakerFields",
    "BreakerStore",
    "Counters",
    "Demand",
    "DeploymentStats",
    "Hold",
    "KeyStore",
    "LedgerRecord",
    "LedgerSink",
    "LedgerStore",
    "RequestPage",
    "RequestQuery",
    "ResponseCache",
    "ResponseStore",
    "ScopeUsage",
    "SpendQuery",
    "SpendReport",
    "SpendSeed",
    "StatsBucket",
    "StatsQuery",
    "StatsReport",
    "StoredResponse",
]

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


# --- access: keys and teams (durable), counters (shared), the ledger (durable) -----------


class KeyStore(Protocol):
    """Virtual keys and teams, durable (`calcifer.store`). Every change raises the store's
    revision, so workers and replicas can pick up changes with one cheap query."""

    async def save_key(self, key: VirtualKey) -> None:
        """Insert or replace the key (by id)."""

    async def get_key(self, key_id: str) -> VirtualKey | None: ...

    async def key_by_hash(self, key_hash: str) -> VirtualKey | None: ...

    async def list_keys(self, team_id: str | None = None) -> list[VirtualKey]: ...

    async def save_team(self, team: Team) -> None: ...

    async def get_team(self, team_id: str) -> Team | None: ...

    async def list_teams(self) -> list[Team]: ...

    async def delete_team(self, team_id: str) -> bool:
        """False when the team does not exist; a team that still has keys is refused (ValueError)."""

    async def revision(self) -> int:
        """A number that grows with every change to keys or teams."""

    async def changed_since(self, revision: int) -> tuple[int, list[VirtualKey], list[Team]]:
        """The current revision, and the keys and teams changed after `revision`."""


@dataclass(frozen=True, slots=True)
class Demand:
    """What one request asks of one scope (a key or its team) before it is served."""

    scope: AccessScope
    hold_usd: Decimal
    """Reserved against the scope's budget until settled: the capped estimate of the cost."""
    tokens: int
    """Reserved against tokens-per-minute until settled: the estimate of the request's tokens."""


@dataclass(slots=True)
class Hold:
    """What `Counters.admit` reserved for one request; given back to `settle` exactly once."""

    request_id: str
    demands: tuple[Demand, ...]
    admitted_at: float
    """The counters' clock (epoch seconds) at admission."""
    lease_until: float
    """After this, the reservation lapses by itself (a worker that died holding it)."""
    detail: object = None
    """Whatever the implementation needs to undo exactly what it did."""
    settled: bool = False


@dataclass(frozen=True, slots=True)
class ScopeUsage:
    """A key's or team's use of its budget and limits at one moment (`Counters.usage`)."""

    spent_usd: Decimal
    """Settled spend in the budget's current period, as the counters know it (0: not known
    here yet, or no budget; the ledger has the rest)."""
    reserved_usd: Decimal
    """Held by requests admitted and not yet settled (their leases not lapsed)."""
    requests_last_minute: int
    tokens_last_minute: int
    """Tokens counted in the rate window: estimates of requests in flight, actuals once settled."""
    in_flight: int
    """Requests holding a parallel slot now."""


SpendSeed = Callable[[AccessScope, BudgetPeriod, datetime | None], Awaitable[Decimal]]
"""The spend already recorded for a scope since a period's start (None: ever), read from the
ledger when the counters do not know it (first use, a new process, a Redis restart)."""


class Counters(Protocol):
    """Rate limits, parallel requests and budget holds, shared by everything that serves keys:
    in process (one worker), shared memory (the workers of one machine), Redis (replicas).

    `admit` checks and reserves every demand of a request in one all-or-nothing step: it
    raises `KeyRateLimited`, `BudgetExceeded` (and reserves nothing), or `LimitsUnavailable`
    when the shared state cannot be reached. `settle` adds the exact cost to the scopes'
    spend, corrects the token reservation to the actual count, and releases the rest."""

    async def admit(self, request_id: str, demands: Sequence[Demand]) -> Hold: ...

    async def settle(self, hold: Hold, cost_usd: Decimal, tokens: int) -> None: ...

    async def usage(self, scope: AccessScope) -> ScopeUsage:
        """What the scope uses now, as the counters know it; only reads (a scope they have not
        seen reads as zeros, and no reservation or seed is made for it)."""

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """One request, as the ledger keeps it."""

    request_id: str
    started_at: datetime
    """UTC."""
    route: str
    """The dialect: `chat`, `completions` (the seed API), `messages`, `responses`, `embeddings`."""
    status: int
    key_id: str | None = None
    team_id: str | None = None
    user: str | None = None
    requested_model: str | None = None
    served_model: str | None = None
    provider: str | None = None
    attempts: int = 0
    error_code: str | None = None
    stream: bool = False
    input_tokens: int = 0
    """Uncached input tokens."""
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    cost_estimated: bool = False
    price_version: str = ""
    """The catalog version the request was priced with, and `@` the day its price list took
    effect when the model has dated lists (`3f2a9c1b7d44@2026-12-15`)."""
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    overhead_ms: float = 0.0
    service_tier: str | None = None
    """The service tier whose prices priced the request; None for the list price."""
    cache_hit: bool = False
    """Answered from the response cache (the provider was not called)."""
    saved_usd: Decimal = Decimal(0)
    """On a cache hit: what the original answer cost, less what the hit was billed."""
    cache_result: str | None = None
    """`hit`, `miss` or `bypass` when the response cache was on for the model; else None."""


@dataclass(frozen=True, slots=True)
class SpendQuery:
    group_by: tuple[str, ...]
    """Any of `key`, `team`, `user`, `model`, `provider`, `day`."""
    since: datetime | None = None
    until: datetime | None = None
    key_id: str | None = None
    team_id: str | None = None


@dataclass(frozen=True, slots=True)
class SpendReport:
    rows: list[dict[str, object]]
    """Group fields, then `requests`, `input_tokens`, `output_tokens`, `cost_usd` (Decimal),
    `cache_hits` and `saved_usd` (Decimal)."""
    total: dict[str, object]


@dataclass(frozen=True, slots=True)
class RequestQuery:
    key_id: str | None = None
    team_id: str | None = None
    model: str | None = None
    status: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: str | None = None
    """Opaque: the `next_cursor` of the previous page."""


@dataclass(frozen=True, slots=True)
class RequestPage:
    records: list[LedgerRecord] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class StatsQuery:
    """`buckets` consecutive periods of `bucket_seconds` from `since` (UTC)."""

    since: datetime
    bucket_seconds: int
    buckets: int
    sample_per_bucket: int = 1000
    """Percentiles of a bucket are read from at most this many of its records (its first ones)."""


@dataclass(frozen=True, slots=True)
class StatsBucket:
    start: datetime
    requests: int = 0
    errors: int = 0
    """Answers with a status of 400 or more (499: the client left)."""
    cost_usd: Decimal = Decimal(0)
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    """Percentiles of answered requests (status below 400); time to first token: streams only."""
    cache_hits: int = 0
    cache_misses: int = 0
    """Requests the response cache answered, and those it looked up in vain (bypasses are
    neither: the cache was not asked)."""
    saved_usd: Decimal = Decimal(0)
    """What the hits would have cost, less what they were billed."""


@dataclass(frozen=True, slots=True)
class DeploymentStats:
    """Requests a catalog model served through one provider over the whole window."""

    model: str
    provider: str
    requests: int
    errors: int
    mean_latency_ms: float | None


@dataclass(frozen=True, slots=True)
class StatsReport:
    buckets: list[StatsBucket]
    deployments: list[DeploymentStats]


class LedgerSink(Protocol):
    """Takes a record from the request path: never blocks, never raises (the ledger writer)."""

    def record(self, record: LedgerRecord) -> None: ...


class LedgerStore(Protocol):
    """Where ledger records end up (`calcifer.store`). Writing is idempotent by request id,
    so a batch replayed from the spool after an unclear failure is never counted twice."""

    async def append(self, records: Sequence[LedgerRecord]) -> None:
        """One batch, in one transaction."""

    async def spent(self, scope: AccessScope, since: datetime | None) -> Decimal: ...

    async def spend(self, query: SpendQuery) -> SpendReport: ...

    async def requests(self, query: RequestQuery) -> RequestPage: ...

    async def record(self, request_id: str) -> LedgerRecord | None:
        """One raw record (None once it has been rolled up, or never written)."""

    async def stats(self, query: StatsQuery) -> StatsReport:
        """Requests, errors, cost and latency percentiles per time bucket (raw records only)."""

    async def expire(self, keep_days: int, now: datetime) -> int:
        """Roll records older than `keep_days` into the daily rollups, then delete them."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What rebuilds a Responses API conversation: the response as answered, and the
    whole input it answered (the earlier responses' items included)."""

    id: str
    owner: str
    """The id of the principal that made it (a key's id, `master`, `anonymous`)."""
    created_at: datetime
    input_items: list[dict[str, Any]]
    response: dict[str, Any]


class ResponseStore(Protocol):
    """Stored responses, shared by every worker and replica (`calcifer.store.responses`)."""

    async def save_response(self, stored: StoredResponse) -> None: ...

    async def load_response(self, response_id: str) -> StoredResponse | None: ...

    async def delete_response(self, response_id: str) -> bool: ...

    async def expire(self, keep_days: int, now: datetime) -> int:
        """Delete the responses made more than `keep_days` ago; how many."""


class ResponseCache(Protocol):
    """Finished answers by cache key (`calcifer.domain.response_cache`), each with its own TTL.

    A backend that cannot answer (Redis down, a value too large) behaves as a miss: `get`
    returns None and `put` drops the value; it never raises for that.
    """

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    def put_now(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        """`put` without I/O, when the backend can (in process): True once done. False: the
        caller must `put` (a backend across the network)."""
        ...

    async def aclose(self) -> None: ...
