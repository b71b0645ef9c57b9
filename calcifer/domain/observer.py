"""How the gateway reports upstream calls without knowing who listens (tracing, metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage

__all__ = ["NULL_RECORD", "CallObserver", "CallRecord", "CallResult", "ForwardingRecord", "NullObserver"]


class CallResult(Protocol):
    """What an answer says about itself (a whole `Completion`, or a stream's `ResultFields`)."""

    @property
    def response_id(self) -> str | None: ...

    @property
    def response_model(self) -> str | None: ...

    @property
    def finish_reasons(self) -> Sequence[str]: ...


class CallRecord(Protocol):
    """One upstream call being observed."""

    @property
    def propagation_headers(self) -> Mapping[str, str]: ...

    def first_chunk(self) -> None: ...

    def succeeded(self, result: CallResult, usage: Usage | None, cost: Decimal | None) -> None: ...

    def failed(self, error: BaseException, usage: Usage | None, cost: Decimal | None) -> None: ...


class CallObserver(Protocol):
    def start(self, call: UpstreamCall) -> CallRecord: ...


class ForwardingRecord:
    """A record that passes every event on to `inner`: an observer wrapped around another one
    overrides only the events it acts on."""

    __slots__ = ("_inner",)

    def __init__(self, inner: CallRecord) -> None:
        self._inner = inner

    @property
    def propagation_headers(self) -> Mapping[str, str]:
        return self._inner.propagation_headers

    def first_chunk(self) -> None:
        self._inner.first_chunk()

    def succeeded(self, result: CallResult, usage: Usage | None, cost: Decimal | None) -> None:
        self._inner.succeeded(result, usage, cost)

    def failed(self, error: BaseException, usage: Usage | None, cost: Decimal | None) -> None:
        self._inner.failed(error, usage, cost)


class _NullRecord:
    propagation_headers: Mapping[str, str] = {}

    def first_chunk(self) -> None:
        return None

    def succeeded(self, result: CallResult, usage: Usage | None, cost: Decimal | None) -> None:
        return None

    def failed(self, error: BaseException, usage: Usage | None, cost: Decimal | None) -> None:
        return None


NULL_RECORD: CallRecord = _NullRecord()
"""A record that keeps nothing and sends no trace context upstream."""


class NullObserver:
    """Observes nothing; for tools that run the gateway without telemetry."""

    def start(self, call: UpstreamCall) -> CallRecord:
        return NULL_RECORD
