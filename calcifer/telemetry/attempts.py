"""Counts every upstream call by its outcome, around whichever observer records spans."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from calcifer.domain.observer import CallObserver, CallRecord, CallResult, ForwardingRecord
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import UpstreamRateLimited, UpstreamTimeout
from calcifer.telemetry.metrics import GatewayMetrics

__all__ = ["AttemptCounter", "outcome_of"]


def outcome_of(error: BaseException) -> str:
    if isinstance(error, UpstreamTimeout | TimeoutError):
        return "timeout"
    if isinstance(error, UpstreamRateLimited):
        return "rate_limited"
    if isinstance(error, GeneratorExit | asyncio.CancelledError):
        return "cancelled"  # the client left: not the provider's failure
    return "failed"


class AttemptCounter:
    """A `CallObserver` that counts calls (`calcifer_upstream_attempts_total`) and passes
    everything on to `inner`."""

    def __init__(self, inner: CallObserver, metrics: GatewayMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def start(self, call: UpstreamCall) -> CallRecord:
        return _CountedRecord(self._inner.start(call), self._metrics, call.model.provider_id)


class _CountedRecord(ForwardingRecord):
    __slots__ = ("_metrics", "_provider")

    def __init__(self, inner: CallRecord, metrics: GatewayMetrics, provider: str) -> None:
        super().__init__(inner)
        self._metrics = metrics
        self._provider = provider

    def succeeded(self, result: CallResult, usage: Usage | None, cost: Decimal | None) -> None:
        self._metrics.attempt(self._provider, "ok")
        super().succeeded(result, usage, cost)

    def failed(self, error: BaseException, usage: Usage | None, cost: Decimal | None) -> None:
        self._metrics.attempt(self._provider, outcome_of(error))
        super().failed(error, usage, cost)
