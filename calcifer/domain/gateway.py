"""The gateway service: route a request, call its provider, price the answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from calcifer.domain.chat import ChatRequest, Chunk, PricedCompletion
from calcifer.domain.estimate import estimate_usage, prompt_characters
from calcifer.domain.models import ModelSpec
from calcifer.domain.observer import CallObserver, CallRecord
from calcifer.domain.provider import Provider, UpstreamCall, required_capabilities
from calcifer.domain.retry import RetryPolicy
from calcifer.domain.routing import ModelRouter
from calcifer.domain.usage import Usage
from calcifer.errors import ProviderNotConfigured, UnsupportedFeature, UpstreamError, UpstreamProtocolError

__all__ = ["Gateway", "PricedStream", "ProviderDirectory"]

_NO_RETRY = RetryPolicy(attempts=1)


class ProviderDirectory:
    """Provider adapters by catalog id, their retry policies, and why the missing ones are missing."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        unavailable: Mapping[str, str],
        retry_policies: Mapping[str, RetryPolicy] | None = None,
    ) -> None:
        self._providers = dict(providers)
        self._unavailable = dict(unavailable)
        self._retry_policies = dict(retry_policies or {})

    def retry_policy(self, provider_id: str) -> RetryPolicy:
        return self._retry_policies.get(provider_id, _NO_RETRY)

    def get(self, provider_id: str) -> Provider:
        provider = self._providers.get(provider_id)
        if provider is None:
            reason = self._unavailable.get(provider_id, "it is not declared in the catalog")
            raise ProviderNotConfigured(f"Provider '{provider_id}' is not available: {reason}")
        return provider

    def all(self) -> list[Provider]:
        return list(self._providers.values())


class Gateway:
    def __init__(self, router: ModelRouter, providers: ProviderDirectory, observer: CallObserver) -> None:
        self._router = router
        self._providers = providers
        self._observer = observer

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return self._router.models

    async def complete(self, request: ChatRequest) -> PricedCompletion:
        model, provider = self._resolve(request)
        policy = self._providers.retry_policy(provider.id)
        attempt = 0
        while True:
            try:
                priced = await self._complete_once(request, model, provider)
            except UpstreamError as error:
                delay = policy.delay(attempt, error)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                attempt += 1
                continue
            priced.attempts = attempt + 1
            return priced

    async def _complete_once(
        self, request: ChatRequest, model: ModelSpec, provider: Provider
    ) -> PricedCompletion:
        call, record = self._start(request, model)
        started = time.perf_counter()
        try:
            completion = await provider.complete(call)
        except BaseException as exc:
            record.failed(exc, None, None)
            raise
        upstream_seconds = time.perf_counter() - started
        cost = model.price.cost(completion.usage)
        result = _ResultFields.from_body(completion.body)
        record.succeeded(result, completion.usage, cost)
        return PricedCompletion(
            completion=completion, model=model, cost=cost, upstream_seconds=upstream_seconds
        )

    async def stream(self, request: ChatRequest) -> PricedStream:
        """Open the upstream stream and wait for its first chunk, so that a failure to
        start is raised here, before the client has been sent any byte."""
        model, provider = self._resolve(request)
        policy = self._providers.retry_policy(provider.id)
        attempt = 0
        while True:
            call, record = self._start(request, model)
            stream = PricedStream(model, provider.stream(call), record, prompt_characters(request.messages))
            try:
                await stream.start()
            except UpstreamError as error:
                delay = policy.delay(attempt, error)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                attempt += 1
                continue
            stream.attempts = attempt + 1
            return stream

    def _resolve(self, request: ChatRequest) -> tuple[ModelSpec, Provider]:
        model = self._router.route(request.model, request.provider_hint)
        provider = self._providers.get(model.provider_id)
        missing = required_capabilities(request) - provider.capabilities
        if missing:
            names = ", ".join(sorted(missing))
            raise UnsupportedFeature(
                f"The model '{model.name}' (provider '{provider.id}') does not support: {names}"
            )
        return model, provider

    def _start(self, request: ChatRequest, model: ModelSpec) -> tuple[UpstreamCall, CallRecord]:
        record = self._observer.start(UpstreamCall(request, model))
        return UpstreamCall(request, model, record.propagation_headers), record


@dataclass(slots=True)
class _ResultFields:
    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> _ResultFields:
        fields = cls(_str_or_none(body.get("id")), _str_or_none(body.get("model")))
        fields.note_choices(body.get("choices"))
        return fields

    def note_choices(self, choices: object) -> None:
        if not isinstance(choices, list):
            return
        for choice in choices:
            reason = choice.get("finish_reason") if isinstance(choice, dict) else None
            if reason:
                self.finish_reasons.append(str(reason))


def _delta_characters(choices: object) -> int:
    """Characters of generated text in a chunk: content, reasoning and tool arguments."""
    if not isinstance(choices, list):
        return 0
    total = 0
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        total += len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
        for call in delta.get("tool_calls") or ():
            total += len((call.get("function") or {}).get("arguments") or "")
    return total


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


class PricedStream:
    """A provider's chunk stream, observed and priced as it passes.

    After the stream ends, `usage` and `cost` hold what the provider reported. The
    chunk carrying usage gets `cost` added to its `usage` object.
    """

    def __init__(
        self, model: ModelSpec, upstream: AsyncIterator[Chunk], record: CallRecord, prompt_chars: int = 0
    ) -> None:
        self.model = model
        self.usage: Usage | None = None
        self.cost: Decimal | None = None
        self.result = _ResultFields()
        self._upstream = upstream
        self._record = record
        self._first: Chunk | None = None
        self._prompt_chars = prompt_chars
        self._delivered_chars = 0
        self.upstream_seconds = 0.0
        """Time spent waiting for the provider, so far."""
        self.attempts = 1
        self._reported: Usage | None = None

    async def start(self) -> None:
        started = time.perf_counter()
        try:
            self._first = self._observe(await anext(self._upstream))
        except StopAsyncIteration:
            error = UpstreamProtocolError(
                f"Provider '{self.model.provider_id}' ended the stream without sending anything",
                provider=self.model.provider_id,
            )
            self._record.failed(error, None, None)
            raise error from None
        except BaseException as exc:
            self._record.failed(exc, None, None)
            await self._close_upstream()
            raise
        finally:
            self.upstream_seconds += time.perf_counter() - started
        self._record.first_chunk()

    async def chunks(self) -> AsyncGenerator[Chunk, None]:
        """Every chunk, the first included. Close this generator to cancel the upstream."""
        try:
            if self._first is not None:
                first, self._first = self._first, None
                yield first
            while True:
                waited = time.perf_counter()
                try:
                    chunk = await anext(self._upstream)
                except StopAsyncIteration:
                    break
                finally:
                    self.upstream_seconds += time.perf_counter() - waited
                yield self._observe(chunk)
        except BaseException as exc:  # cancellation and client disconnects included
            self._price_unreported()
            self._record.failed(exc, self.usage, self.cost)
            raise
        finally:
            await self._close_upstream()
        self._price_unreported()
        self._record.succeeded(self.result, self.usage, self.cost)

    def _price_unreported(self) -> None:
        """A stream that ended without a usage report is still priced, on an estimate."""
        if self.usage is None:
            self.usage = estimate_usage(self._reported, self._prompt_chars, self._delivered_chars)
            self.cost = self.model.price.cost(self.usage)

    def _observe(self, chunk: Chunk) -> Chunk:
        data = chunk.data
        if self.result.response_id is None:
            self.result.response_id = _str_or_none(data.get("id"))
            self.result.response_model = _str_or_none(data.get("model"))
        choices = data.get("choices")
        self.result.note_choices(choices)
        self._delivered_chars += _delta_characters(choices)
        if chunk.usage_so_far is not None:
            self._reported = chunk.usage_so_far
        if chunk.usage is not None:
            self.usage = chunk.usage
            self.cost = self.model.price.cost(chunk.usage)
            if isinstance(data.get("usage"), dict):
                data["usage"]["cost"] = self.cost
                chunk.raw = None
        return chunk

    async def _close_upstream(self) -> None:
        close = getattr(self._upstream, "aclose", None)
        if close is not None:
            await close()
