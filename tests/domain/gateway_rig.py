"""A `Gateway` built in process on scripted fake upstreams, for the retry/fallback/breaker tests.

The fakes are upstreams, not stand-ins for our classes: router, balancer, directory, breakers
and observer are the real ones. `build_rig` is the only place that wires them together, so a
change in how the gateway is constructed is fixed here once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from calcifer.domain.balancing import Balancer
from calcifer.domain.breaker import BreakerSettings, BreakerState, CircuitBreaker
from calcifer.domain.chat import ChatRequest, Chunk, Completion
from calcifer.domain.directory import ProviderDirectory, ProviderPolicy
from calcifer.domain.gateway import Gateway
from calcifer.domain.models import Deployment, ModelSpec
from calcifer.domain.observer import NullObserver
from calcifer.domain.pricing import Price
from calcifer.domain.provider import CHAT_PARAMETERS, ParameterPolicy, UpstreamCall, forwarded, refused
from calcifer.domain.retry import RetryPolicy
from calcifer.domain.routing import ModelRouter
from calcifer.domain.usage import Usage
from calcifer.errors import UpstreamError, UpstreamRateLimited
from calcifer.formats import openai_chat as wire

__all__ = [
    "FAST_RETRY",
    "PRICE",
    "REPORTED_USAGE",
    "Answer",
    "Clock",
    "Fail",
    "FakeProvider",
    "Hang",
    "Rig",
    "Served",
    "build_rig",
    "model",
]

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002, max_retry_after=20.0)
"""Three calls in all, with back-offs of a couple of milliseconds so the suite stays fast."""

REPORTED_USAGE = Usage(input_tokens=10, output_tokens=5)
"""What every fake upstream reports for an answer."""
PRICE = Price(Decimal(1), Decimal(2))
"""USD per million input and output tokens of a model built by `model` unless told otherwise."""
DEFAULT_BREAKER = BreakerSettings()


class Clock:
    """The breakers' time, moved by the test: cooldowns pass without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class Fail:
    """Raise a fresh `kind` error (Retry-After for rate limits)."""

    kind: type[UpstreamError]
    retry_after: float | None = None

    def error(self, provider_id: str) -> UpstreamError:
        message = f"scripted {self.kind.__name__} from {provider_id}"
        if issubclass(self.kind, UpstreamRateLimited):
            return self.kind(message, provider=provider_id, retry_after=self.retry_after)
        return self.kind(message, provider=provider_id)


@dataclass(frozen=True, slots=True)
class Hang:
    """Say nothing until `until` is set (never, by default), then go on as `then`."""

    until: asyncio.Event = field(default_factory=asyncio.Event)
    then: Answer | Fail | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer of `text`; streamed, one chunk per word, then `then` (ends, fails or hangs),
    then the usage chunk when `reports_usage`."""

    text: str = "hello from upstream"
    reports_usage: bool = True
    then: Fail | Hang | None = None


Outcome = Answer | Fail | Hang


class FakeProvider:
    """An upstream whose calls follow a script, one outcome per call; `otherwise` after it."""

    def __init__(
        self,
        provider_id: str,
        *script: Outcome,
        otherwise: Outcome = Answer(),
        refuses: frozenset[str] = frozenset(),
    ) -> None:
        self._id = provider_id
        self._script = list(script)
        self._otherwise = otherwise
        self._refuses = refuses
        self._parameters = ParameterPolicy(
            {name: refused("a fake") if name in refuses else forwarded() for name in CHAT_PARAMETERS}
        )
        self.calls: list[UpstreamCall] = []
        self.log: list[str] = []
        """Shared by every provider of a rig: provider ids in call order."""
        self.open_streams = 0
        self.closed_streams = 0
        self._called = asyncio.Event()

    @property
    def id(self) -> str:
        return self._id

    @property
    def parameters(self) -> ParameterPolicy:
        return self._parameters

    async def complete(self, call: UpstreamCall) -> Completion:
        outcome = await self._arrive(self._take(call))
        text = outcome.text
        body = {
            "id": f"cmpl-{self._id}-{len(self.calls)}",
            "object": "chat.completion",
            "model": call.model.upstream_model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
        }
        return wire.read_completion(body, REPORTED_USAGE)  # reported as an OpenAI adapter does

    async def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]:
        self.open_streams += 1
        try:
            outcome = await self._arrive(self._take(call))
            for word in outcome.text.split():
                yield _chunk(call, {"choices": [{"index": 0, "delta": {"content": word}}]})
            if outcome.then is not None:
                await self._arrive(outcome.then)
            yield _chunk(call, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if outcome.reports_usage:
                usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
                yield wire.read_chunk({"id": "s", "choices": [], "usage": usage}, usage=REPORTED_USAGE)
        finally:
            self.closed_streams += 1

    async def aclose(self) -> None:
        return None

    def sharing_script(self, provider_id: str) -> FakeProvider:
        """Another upstream drawing from this one's script: the n-th call to either of them
        gets the n-th outcome, whichever deployment the balancer picks."""
        twin = FakeProvider(provider_id, otherwise=self._otherwise, refuses=self._refuses)
        twin._script = self._script
        return twin

    async def wait_for_calls(self, count: int) -> None:
        """Let other tasks run until this upstream has been called `count` times."""
        while len(self.calls) < count:
            self._called.clear()
            await self._called.wait()

    def _take(self, call: UpstreamCall) -> Outcome:
        self.calls.append(call)
        self._called.set()
        self.log.append(self._id)
        return self._script.pop(0) if self._script else self._otherwise

    async def _arrive(self, outcome: Outcome) -> Answer:
        """Wait out hangs, raise failures: the answer the upstream ends up giving."""
        while isinstance(outcome, Hang):
            await outcome.until.wait()
            if outcome.then is None:
                return Answer(text="", reports_usage=False)
            outcome = outcome.then
        if isinstance(outcome, Fail):
            raise outcome.error(self._id)
        return outcome


def _chunk(call: UpstreamCall, data: dict[str, Any]) -> Chunk:
    chunk = {"id": "s", "object": "chat.completion.chunk", "model": call.model.upstream_model, **data}
    return wire.read_chunk(chunk)


def model(
    name: str,
    *provider_ids: str,
    price: Price = PRICE,
    fallbacks: tuple[str, ...] = (),
    context_window_fallbacks: tuple[str, ...] = (),
) -> ModelSpec:
    """A model served by one deployment per provider id (upstream model `<name>@<provider>`)."""
    deployments = tuple(Deployment(pid, f"{name}@{pid}") for pid in provider_ids)
    return ModelSpec(
        name,
        deployments[0].provider_id,
        deployments[0].upstream_model,
        price,
        deployments=deployments,
        fallbacks=fallbacks,
        context_window_fallbacks=context_window_fallbacks,
    )


@dataclass(slots=True)
class Served:
    """What the client got: the text, who answered, how many calls it took, what it cost."""

    text: str
    model: str
    attempts: int
    usage: Usage | None
    cost: Decimal | None


@dataclass(slots=True)
class Rig:
    gateway: Gateway
    balancer: Balancer
    clock: Clock
    providers: dict[str, FakeProvider]
    log: list[str]
    """Provider ids in the order the gateway called them."""

    def request(
        self, model_name: str, *, stream: bool = False, hint: str | None = None, **body: Any
    ) -> ChatRequest:
        messages = [{"role": "user", "content": "Say hello to the tests, please."}]
        body = {"model": model_name, "messages": messages, **body}
        return ChatRequest(model_name, body, stream, include_usage=True, provider_hint=hint)

    async def ask(
        self,
        model_name: str,
        *,
        stream: bool = False,
        hint: str | None = None,
        deadline: float | None = None,
        **body: Any,
    ) -> Served:
        """One request as a client makes it; a stream is read to its end."""
        request = self.request(model_name, stream=stream, hint=hint, **body)
        if not stream:
            done = await self.gateway.complete(request, deadline)
            content = done.completion.body["choices"][0]["message"]["content"]
            usage = done.completion.usage
            return Served(content, done.model.name, done.attempts, usage, done.cost)
        answer = await self.gateway.stream(request, deadline)
        words = [
            choice["delta"].get("content") or ""
            async for chunk in answer.chunks()
            for choice in chunk.data.get("choices", [])
        ]
        return Served(
            " ".join(w for w in words if w),
            answer.model.name,
            answer.attempts,
            answer.usage,
            answer.cost,
        )

    def breaker(self, provider_id: str) -> BreakerState:
        """The breaker state of the (first) deployment on `provider_id`, as /health shows it."""
        states = self.balancer.all_states()
        return next(s.breaker.state for s in states if s.deployment.provider_id == provider_id)

    def in_flight(self) -> int:
        return sum(s.in_flight for s in self.balancer.all_states())


def build_rig(
    models: Sequence[ModelSpec],
    *providers: FakeProvider,
    retry: RetryPolicy = FAST_RETRY,
    breaker: BreakerSettings = DEFAULT_BREAKER,
    first_byte_timeout: float | None = None,
    idle_timeout: float | None = None,
    unavailable: dict[str, str] | None = None,
) -> Rig:
    """The one place a gateway is wired for these tests: the same retry policy, stream
    timeouts and breaker settings for every provider, breakers on a clock the test moves."""
    clock = Clock()
    log: list[str] = []
    for provider in providers:
        provider.log = log
    policy = ProviderPolicy(retry=retry, first_byte_timeout=first_byte_timeout, idle_timeout=idle_timeout)
    directory = ProviderDirectory(
        {p.id: p for p in providers},
        unavailable or {},
        {pid: policy for pid in {*(p.id for p in providers), *(unavailable or {})}},
    )
    balancer = Balancer(models, breaker_settings=lambda _: breaker, rng=random.Random(7))
    # The balancer builds its breakers on the wall clock; give each one the test's clock instead.
    for state in balancer.all_states():
        state.breaker = CircuitBreaker(breaker, clock=clock)
    gateway = Gateway(ModelRouter(models), directory, NullObserver(), balancer)
    return Rig(gateway, balancer, clock, {p.id: p for p in providers}, log)
