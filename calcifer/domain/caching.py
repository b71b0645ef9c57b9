"""The response cache as the serving path uses it: decide per request (policy, the client's
`Cache-Control`), look the answer up, store a fresh one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from loguru import logger

from calcifer.domain.access import Principal
from calcifer.domain.cached_answer import CachedAnswer
from calcifer.domain.cached_stream import CachedStream, StreamRecorder
from calcifer.domain.chat import ChatRequest, PricedCompletion
from calcifer.domain.models import ModelSpec
from calcifer.domain.ports import ResponseCache
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.response_cache import CachePolicy, cache_key, refusal_reason, scope_id

__all__ = ["CacheDirective", "CachePlan", "CacheResult", "ResponseCaching"]


class CacheResult(StrEnum):
    """What the cache did for a request (the `X-Calcifer-Cache` header, the metric's label)."""

    HIT = "hit"
    MISS = "miss"
    BYPASS = "bypass"


@dataclass(frozen=True, slots=True)
class CacheDirective:
    """What the client asked of the cache for one request."""

    no_cache: bool = False
    """`Cache-Control: no-cache`: do not answer from the cache; store the fresh answer."""
    no_store: bool = False
    """`Cache-Control: no-store`: neither look up nor store."""
    ttl_seconds: float | None = None
    """`X-Calcifer-Cache-Ttl`: how long to keep this answer, instead of the policy's TTL."""
    sampled: bool = False
    """`X-Calcifer-Cache-Sampled: true`: cache this request even though it is sampled
    (`temperature > 0` or unset), as a model's `sampled: true` would."""


@dataclass(frozen=True, slots=True)
class CachePlan:
    """The cache's part in one request: None key when the cache stays out of it."""

    result: CacheResult | None
    """None when caching is off for the model (no header is sent)."""
    key: str | None = None
    ttl_seconds: float = 0.0
    look_up: bool = False

    @property
    def stores(self) -> bool:
        return self.key is not None


_OFF = CachePlan(None)
_BYPASS = CachePlan(CacheResult.BYPASS)


class ResponseCaching:
    """The backend, the gateway's default policy and the catalog's per-model ones."""

    def __init__(
        self,
        backend: ResponseCache,
        default: CachePolicy,
        per_model: Mapping[str, CachePolicy] | None = None,
        hit_cost_fraction: Decimal = Decimal(0),
        replay_pacing: bool = False,
        hits_count_as_spend: bool = False,
    ) -> None:
        self.backend = backend
        self._default = default
        self._per_model = dict(per_model or {})
        self.hit_cost_fraction = hit_cost_fraction
        self.replay_pacing = replay_pacing
        self.hits_count_as_spend = hits_count_as_spend
        self._writes: set[asyncio.Task[None]] = set()

    def policy(self, model: ModelSpec) -> CachePolicy:
        return self._per_model.get(model.name, self._default)

    def plan(
        self, chat: ChatRequest, model: ModelSpec, principal: Principal, directive: CacheDirective
    ) -> CachePlan:
        policy = self.policy(model)
        if not policy.enabled:
            return _OFF
        if directive.sampled and not policy.sampled:
            policy = replace(policy, sampled=True)
        if directive.no_store or not principal.may_cache or refusal_reason(chat, policy) is not None:
            return _BYPASS
        scope = scope_id(policy.scope, principal.key_id, principal.team_id)
        ttl = policy.ttl_seconds if directive.ttl_seconds is None else directive.ttl_seconds
        key = cache_key(chat, model.name, scope)
        return CachePlan(CacheResult.MISS, key, ttl, look_up=not directive.no_cache)

    async def lookup(self, plan: CachePlan) -> CachedAnswer | None:
        value = await self._look_up(plan)
        return CachedAnswer.decode(value) if value is not None else None

    async def lookup_stream(self, plan: CachePlan) -> CachedStream | None:
        value = await self._look_up(plan)
        return CachedStream.decode(value) if value is not None else None

    async def _look_up(self, plan: CachePlan) -> bytes | None:
        if not plan.look_up or plan.key is None:
            return None
        return await self.backend.get(plan.key)

    def store_later(self, plan: CachePlan, priced: PricedCompletion, request_id: str) -> None:
        """Keep a whole answer that ended normally (never called for errors), without making
        the client wait for the backend: encoded now, written by a task."""
        if plan.key is None:
            return
        model, now = priced.model, time.time()
        answer = CachedAnswer(priced.completion, model.name, model.provider_id, priced.cost, request_id, now)
        self._write_later(plan, answer.encode)

    def store_stream_later(
        self, plan: CachePlan, recorder: StreamRecorder, stream: PricedStream, request_id: str
    ) -> None:
        """Keep a streamed answer, only when it ended normally (never a cut or failed one)."""
        if plan.key is not None and recorder.ended_normally(stream):
            self._write_later(plan, CachedStream.recorded(recorder, stream, request_id).encode)

    def _write_later(self, plan: CachePlan, encode: Callable[[], bytes]) -> None:
        """The client has its answer: an entry that cannot be encoded is a defect to log, never
        an error for the client."""
        assert plan.key is not None
        try:
            value = encode()
        except (TypeError, ValueError):
            logger.exception("response cache: an answer could not be encoded; it is not kept")
            return
        if self.backend.put_now(plan.key, value, plan.ttl_seconds):
            return  # in process: cheaper than a task
        task = asyncio.get_running_loop().create_task(self.backend.put(plan.key, value, plan.ttl_seconds))
        self._writes.add(task)  # a task nobody holds may be collected before it runs
        task.add_done_callback(self._writes.discard)

    def hit_cost(self, answer: CachedAnswer) -> Decimal:
        """What a hit costs the client: a fraction of the original answer (0 by default)."""
        return answer.cost * self.hit_cost_fraction

    def unbilled_spend(self, saved: Decimal) -> Decimal:
        """What budgets count of a hit beyond what it is billed: the saving, when
        `hits_count_as_spend` says a hit weighs on budgets as the original did; else nothing."""
        return saved if self.hits_count_as_spend else Decimal(0)
