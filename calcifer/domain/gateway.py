"""The gateway service: route a request, choose a deployment, call it, recover, price.

For each request: the model's deployments are tried by the model's balancing strategy,
skipping those whose circuit breaker is open; a failed attempt is retried on another
deployment at once when there is one, otherwise on the same one after the provider's
backoff (or its Retry-After, when that fits the request's deadline); when the model's
deployments are exhausted, its fallback models are tried in order, and a prompt too
long for the model goes to its context-window fallbacks. Nothing is retried once the
first byte of a stream has been handed over. The answer is priced by the model that
served it.

Every attempt, backoff and fallback fits in the request's deadline (the gateway's, or the
client's when sooner): a non-streamed answer must be whole by then, a stream must have
started (docs/resilience.md, "The request's deadline").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from calcifer.domain.access import ANONYMOUS, Principal
from calcifer.domain.balancing import Balancer, Pick
from calcifer.domain.billing import Pricer
from calcifer.domain.breaker import UPSTREAM_FAULTS
from calcifer.domain.chat import ChatRequest, Completion, PricedCompletion
from calcifer.domain.dialect import Dialect
from calcifer.domain.directory import ProviderDirectory
from calcifer.domain.embeddings import Embeddings, PricedEmbeddings
from calcifer.domain.estimate import prompt_characters
from calcifer.domain.models import ModelMode, ModelSpec
from calcifer.domain.observer import CallObserver, CallRecord
from calcifer.domain.priced_stream import PricedStream, StreamLimits
from calcifer.domain.provider import Provider, UpstreamCall
from calcifer.domain.routing import ModelRouter
from calcifer.errors import (
    CalciferError,
    ContextWindowExceeded,
    DeploymentsUnavailable,
    ProviderNotConfigured,
    UnsupportedFeature,
    UpstreamBusy,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)

__all__ = ["Gateway", "PricedStream"]

_T = TypeVar("_T", bound=PricedCompletion | PricedStream | PricedEmbeddings)
_Answer = TypeVar("_Answer", Completion, Embeddings)


async def _within(seconds: float | None, work: Awaitable[_Answer]) -> _Answer:
    """`work`, given at most `seconds` when there is a deadline (no timer otherwise)."""
    if seconds is None:
        return await work
    async with asyncio.timeout(seconds):
        return await work


def _judge(picked: Pick, *, ok: bool) -> None:
    """Tell the deployment's breaker how the call went. A breaker judges a deployment by
    distinct requests: a request's retries on the same deployment are not counted again (one
    unlucky request must not open it), except the half-open trial, whose outcome always counts."""
    if not (picked.first or picked.trial):
        return
    breaker = picked.state.breaker
    (breaker.succeeded if ok else breaker.failed)(picked.trial)


@dataclass(slots=True)
class _Trail:
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


_DEADLINE_SLACK = 0.005
"""Seconds: a deadline this close has passed (a timer fires a hair early or late)."""


Attempt = Callable[[ChatRequest, ModelSpec, Provider, Pick, _Trail], Awaitable[_T]]


class Gateway:
    def __init__(
        self,
        router: ModelRouter,
        providers: ProviderDirectory,
        observer: CallObserver,
        balancer: Balancer,
        deadline_seconds: float | None = None,
    ) -> None:
        """`deadline_seconds`: every request's overall deadline (`gateway.request_deadline_seconds`);
        a client's own deadline may be shorter, never longer. None: only the client's."""
        self._deadline_seconds = deadline_seconds
        self._router = router
        self._providers = providers
        self._observer = observer
        self._balancer = balancer

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return self._router.models

    @property
    def balancer(self) -> Balancer:
        return self._balancer

    def route(self, request: ChatRequest) -> ModelSpec:
        """The model that will serve `request` first (raises ModelNotFound, ProviderMismatch,
        and InvalidRequest for a model of the other mode, chat or embedding)."""
        mode = ModelMode.EMBEDDING if request.dialect is Dialect.EMBEDDINGS else ModelMode.CHAT
        return self._router.route(request.model, request.provider_hint, mode)

    def provider_of(self, model: ModelSpec) -> Provider:
        """The adapter of the model's first deployment, for a call that is not a completion
        (counting tokens); raises ProviderNotConfigured."""
        return self._providers.get(model.provider_id)

    async def complete(
        self, request: ChatRequest, deadline: float | None = None, principal: Principal = ANONYMOUS
    ) -> PricedCompletion:
        return await self._serve(request, self._trail(deadline, principal), self._complete_on)

    async def stream(
        self, request: ChatRequest, deadline: float | None = None, principal: Principal = ANONYMOUS
    ) -> PricedStream:
        """A stream whose first chunk has arrived: failing to start fails here, before the
        client has been sent any byte, so it can still be retried or get a plain error."""
        return await self._serve(request, self._trail(deadline, principal), self._stream_on)

    async def embed(
        self, request: ChatRequest, deadline: float | None = None, principal: Principal = ANONYMOUS
    ) -> PricedEmbeddings:
        """The vectors of an embeddings request (`dialect=EMBEDDINGS`), served like a chat
        request: the same routing, retries, fallbacks, breakers and deadline."""
        return await self._serve(request, self._trail(deadline, principal), self._embed_on)

    def _trail(self, client_deadline: float | None, principal: Principal) -> _Trail:
        """The request's deadline: the gateway's, or the client's when that comes sooner. A
        client's deadline also bounds its whole stream; the gateway's only the stream's start
        (a stream that flows runs on, up to the provider's `max_stream_seconds`)."""
        deadline = client_deadline
        if self._deadline_seconds is not None:
            overall = time.monotonic() + self._deadline_seconds
            deadline = overall if deadline is None else min(deadline, overall)
        seconds = 0.0 if deadline is None else deadline - time.monotonic()
        return _Trail(deadline, seconds, client_deadline, principal)

    async def _serve(self, request: ChatRequest, trail: _Trail, attempt: Attempt[_T]) -> _T:
        model = self.route(request)
        chain = [model, *self._resolve_all(model.fallbacks)]
        last_error: CalciferError | None = None
        while chain:
            if last_error is not None and trail.expired():
                break  # no time left for a fallback
            candidate = chain.pop(0)
            try:
                result = await self._on_model(request, candidate, attempt, trail)
            except ContextWindowExceeded as error:
                fallbacks = self._resolve_all(
                    candidate.context_window_fallbacks or model.context_window_fallbacks
                )
                if not fallbacks:
                    raise
                chain, last_error = fallbacks, error
                continue
            except (*UPSTREAM_FAULTS, UpstreamBusy, DeploymentsUnavailable, ProviderNotConfigured) as error:
                last_error = error
                continue
            except UnsupportedFeature:
                # The model asked for cannot serve the request: that is the client's answer.
                # A fallback that cannot is skipped; the failure that led to it is the answer.
                if last_error is None:
                    raise
                continue
            result.attempts = trail.attempts
            return result
        assert last_error is not None
        if isinstance(last_error, UpstreamTimeout) and trail.expired():
            raise UpstreamTimeout(
                f"No provider answered within the request's deadline ({trail.seconds:.3g} s); "
                f"last attempt: {last_error.message}",
                provider=last_error.provider,
            ) from last_error
        raise last_error

    async def _on_model(
        self, request: ChatRequest, model: ModelSpec, attempt: Attempt[_T], trail: _Trail
    ) -> _T:
        policy = self._providers.policy(model.deployments[0].provider_id).retry
        providers, excluded = self._eligible(request, model)
        tried: set[str] = set()
        for number in range(policy.attempts):
            if trail.expired():  # nothing can be tried in no time: no deployment is blamed
                raise UpstreamTimeout(
                    f"The request's deadline passed before '{model.name}' could be tried",
                    provider=model.provider_id,
                )
            picked = self._balancer.pick(model, tried, request.provider_hint, excluded)
            if picked is None:
                cooldown = self._balancer.cooldown(model, excluded)
                raise DeploymentsUnavailable(
                    f"Every deployment of '{model.name}' is failing; retry in {cooldown:.0f} s",
                    provider=model.provider_id,
                    retry_after=cooldown,
                )
            trail.attempts += 1
            trail.attempts_left = policy.attempts - number
            try:
                return await attempt(
                    request, model.on(picked.deployment), providers[picked.state.key], picked, trail
                )
            except UpstreamBusy:
                # Our own connection cap: another deployment may have room; this one is not
                # failing, so it is neither waited for again nor blamed.
                tried.add(picked.state.key)
                if trail.expired() or not self._balancer.has_untried(model, tried, excluded):
                    raise
            except UPSTREAM_FAULTS as error:
                tried.add(picked.state.key)
                if number + 1 >= policy.attempts or trail.expired():
                    raise
                if not self._balancer.has_untried(model, tried, excluded):
                    await self._back_off(policy.delay(number, error), error, trail)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _eligible(self, request: ChatRequest, model: ModelSpec) -> tuple[dict[str, Provider], frozenset[str]]:
        """The providers of the model's deployments that can serve this request, and the keys of
        those that cannot (pinned away by `X-Provider`, not configured here, or refusing one of
        its parameters). With none left, the request fails with the reason: a refusal is the
        client's to fix, so it wins."""
        providers: dict[str, Provider] = {}
        excluded: set[str] = set()
        reasons: list[CalciferError] = []
        hint = request.provider_hint
        for deployment in model.deployments:
            if hint is not None and deployment.provider_id != hint:
                excluded.add(deployment.key)  # the client pinned another provider
                continue
            try:
                providers[deployment.key] = self._provider_for(request, model.on(deployment))
            except (UnsupportedFeature, ProviderNotConfigured) as reason:
                excluded.add(deployment.key)
                reasons.append(reason)
        if not providers:
            raise next((r for r in reasons if isinstance(r, UnsupportedFeature)), reasons[0])
        return providers, frozenset(excluded)

    async def _back_off(self, delay: float | None, error: UpstreamError, trail: _Trail) -> None:
        """Wait before trying the same deployment again, or give up when the wait does not fit.
        A provider's Retry-After is waited for whole or not at all; the gateway's own back-off
        shrinks to half the time left, so that the attempts still to come are made in time."""
        remaining = trail.remaining()
        if delay is None:
            raise error
        if remaining is not None:
            if isinstance(error, UpstreamRateLimited) and error.retry_after is not None:
                if delay >= remaining:
                    raise error
            else:
                delay = min(delay, remaining / 2)
        await asyncio.sleep(delay)

    async def _complete_on(
        self, request: ChatRequest, model: ModelSpec, provider: Provider, picked: Pick, trail: _Trail
    ) -> PricedCompletion:
        answer, cost, seconds, pricer = await self._whole(request, model, provider.complete, picked, trail)
        return PricedCompletion(answer, model, cost, upstream_seconds=seconds, pricer=pricer)

    async def _embed_on(
        self, request: ChatRequest, model: ModelSpec, provider: Provider, picked: Pick, trail: _Trail
    ) -> PricedEmbeddings:
        embeddings, cost, seconds, _ = await self._whole(request, model, provider.embed, picked, trail)
        return PricedEmbeddings(embeddings=embeddings, model=model, cost=cost, upstream_seconds=seconds)

    async def _whole(
        self,
        request: ChatRequest,
        model: ModelSpec,
        send: Callable[[UpstreamCall], Awaitable[_Answer]],
        picked: Pick,
        trail: _Trail,
    ) -> tuple[_Answer, Decimal, float, Pricer]:
        """One whole (non-streamed) answer, observed and priced: it, its cost, seconds and pricing."""
        call, record = self._start(request, model)
        answer, seconds = await self._call(send(call), picked, trail, record)
        pricer = Pricer.of(model, request.body, trail.started)
        cost = pricer.cost(answer.usage)
        record.succeeded(answer, answer.usage, cost)
        return answer, cost, seconds, pricer

    async def _call(
        self, work: Awaitable[_Answer], picked: Pick, trail: _Trail, record: CallRecord
    ) -> tuple[_Answer, float]:
        """One whole (non-streamed) answer within the request's deadline, the deployment's
        in-flight count, latency and breaker kept; returns it and the seconds it took."""
        state = picked.state
        state.in_flight += 1
        started = time.perf_counter()
        try:
            answer = await _within(trail.remaining(), work)
        except TimeoutError:
            provider = picked.deployment.provider_id
            error = UpstreamTimeout(f"Provider '{provider}' did not answer in time", provider=provider)
            self._settle(picked, error, record)
            raise error from None
        except BaseException as exc:
            self._settle(picked, exc, record)
            raise
        finally:
            state.in_flight -= 1
        upstream_seconds = time.perf_counter() - started
        state.observe_latency(upstream_seconds)
        _judge(picked, ok=True)
        return answer, upstream_seconds

    async def _stream_on(
        self,
        request: ChatRequest,
        model: ModelSpec,
        provider: Provider,
        picked: Pick,
        trail: _Trail,
    ) -> PricedStream:
        state = picked.state
        call, record = self._start(request, model)
        policy = self._providers.policy(provider.id)
        limits = StreamLimits(
            trail.first_byte_wait(policy.first_byte_timeout), policy.idle_timeout, trail.stream_deadline
        )
        state.in_flight += 1

        def finished(outcome: bool | None, time_to_first_chunk: float | None) -> None:
            state.in_flight -= 1
            if outcome is None:
                state.breaker.release(picked.trial)
                return
            if time_to_first_chunk is not None:
                state.observe_latency(time_to_first_chunk)
            _judge(picked, ok=outcome)

        pricer, prompt = Pricer.of(model, request.body, trail.started), prompt_characters(request.messages)
        stream = PricedStream(model, provider.stream(call), record, prompt, limits, finished, pricer)
        await stream.start()
        return stream

    @staticmethod
    def _settle(picked: Pick, error: BaseException, record: CallRecord) -> None:
        record.failed(error, None, None)
        if isinstance(error, UPSTREAM_FAULTS):
            _judge(picked, ok=False)
        else:
            picked.state.breaker.release(picked.trial)

    def _provider_for(self, request: ChatRequest, model: ModelSpec) -> Provider:
        """The provider of this attempt, once its parameter table accepts the request."""
        provider = self._providers.get(model.provider_id)
        provider.parameters.check_request(request, model.name, provider.id)
        return provider

    def _resolve_all(self, names: tuple[str, ...]) -> list[ModelSpec]:
        return [self._router.route(name) for name in names]

    def _start(self, request: ChatRequest, model: ModelSpec) -> tuple[UpstreamCall, CallRecord]:
        record = self._observer.start(UpstreamCall(request, model))
        return UpstreamCall(request, model, record.propagation_headers), record
