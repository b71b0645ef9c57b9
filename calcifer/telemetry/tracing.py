"""OpenTelemetry traces: a SERVER span per request, a CLIENT span per upstream call.

Upstream spans follow the GenAI semantic conventions (`chat {model}`, `gen_ai.*`
attributes) and add the request's cost. The tracer provider is built here from the
settings and handed to whoever needs it; nothing is installed globally.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from decimal import Decimal

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from calcifer import __version__
from calcifer.domain.dialect import Dialect
from calcifer.domain.observer import NULL_RECORD, CallRecord, CallResult
from calcifer.domain.pricing import format_usd
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import CalciferError
from calcifer.settings import TelemetrySettings

__all__ = ["SpanObserver", "build_tracer_provider", "genai_provider_name", "records_spans"]

# `gen_ai.provider.name` has well-known values; other kinds are reported as they are.
_PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "gcp.gemini",
    "echo": "calcifer.echo",
}


def genai_provider_name(kind: str) -> str:
    """The GenAI conventions' `gen_ai.provider.name` for a provider kind of the catalog."""
    return _PROVIDER_NAMES.get(kind, kind)


def build_tracer_provider(settings: TelemetrySettings) -> TracerProvider:
    resource = Resource.create({"service.name": settings.service_name, "service.version": __version__})
    exporter = _exporter(settings)
    if exporter is None:
        # Spans nobody exports are not recorded (a recorded span costs ~30 µs a request),
        # but a caller's trace context still flows: its sampled trace stays sampled for the
        # providers we call. Without a caller's trace, no span is made at all.
        return TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def records_spans(settings: TelemetrySettings) -> bool:
    """Whether spans are recorded for their own sake (an exporter sends them somewhere)."""
    return settings.traces_exporter in ("console", "otlp")


def _exporter(settings: TelemetrySettings) -> SpanExporter | None:
    if settings.traces_exporter == "console":
        return ConsoleSpanExporter(out=sys.stdout)  # the stdout of now, not of import time
    if settings.traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_traces_endpoint or settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint, headers=dict(settings.otlp_headers))
    return None


class SpanObserver:
    """Implements the domain's `CallObserver` with one CLIENT span per upstream call."""

    def __init__(self, tracer: Tracer, provider_kinds: Mapping[str, str], recording: bool = True) -> None:
        self._tracer = tracer
        self._recording = recording
        self._provider_names = {pid: genai_provider_name(kind) for pid, kind in provider_kinds.items()}

    def start(self, call: UpstreamCall) -> CallRecord:
        if not self._recording and not trace.get_current_span().get_span_context().is_valid:
            # Nothing records spans and no caller's trace is running: a span here would be
            # dropped unrecorded, and a trace id of ours would mean nothing to the provider.
            return NULL_RECORD
        model = call.model
        operation = "embeddings" if call.request.dialect is Dialect.EMBEDDINGS else "chat"
        span = self._tracer.start_span(
            f"{operation} {model.upstream_model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": self._provider_names.get(model.provider_id, model.provider_id),
                "gen_ai.request.model": model.upstream_model,
                "gen_ai.request.stream": call.request.stream,
                "calcifer.model": model.name,
                "calcifer.provider.id": model.provider_id,
                **_request_attributes(call.request.body),
            },
        )
        return _SpanRecord(span)


def _request_attributes(body: Mapping[str, object]) -> dict[str, float | int]:
    names = {
        "temperature": "gen_ai.request.temperature",
        "top_p": "gen_ai.request.top_p",
        "max_tokens": "gen_ai.request.max_tokens",
        "max_completion_tokens": "gen_ai.request.max_tokens",
        "seed": "gen_ai.request.seed",
    }
    return {attr: value for key, attr in names.items() if isinstance(value := body.get(key), int | float)}


class _SpanRecord:
    def __init__(self, span: Span) -> None:
        self._span = span
        self._started = time.perf_counter()
        headers: dict[str, str] = {}
        propagate.inject(headers, context=trace.set_span_in_context(span))
        self.propagation_headers: Mapping[str, str] = headers

    def first_chunk(self) -> None:
        self._span.set_attribute("gen_ai.response.time_to_first_chunk", time.perf_counter() - self._started)

    def succeeded(self, result: CallResult, usage: Usage | None, cost: Decimal | None) -> None:
        self._set_result(result)
        self._set_usage(usage, cost)
        self._span.end()

    def failed(self, error: BaseException, usage: Usage | None, cost: Decimal | None) -> None:
        self._set_usage(usage, cost)
        error_type = type(error).__name__
        description = error.message if isinstance(error, CalciferError) else error_type
        if isinstance(error, GeneratorExit | asyncio.CancelledError):
            error_type, description = "cancelled", "the client went away before the response ended"
        self._span.set_attribute("error.type", error_type)
        self._span.set_status(Status(StatusCode.ERROR, description))
        self._span.end()

    def _set_result(self, result: CallResult) -> None:
        if result.response_id:
            self._span.set_attribute("gen_ai.response.id", result.response_id)
        if result.response_model:
            self._span.set_attribute("gen_ai.response.model", result.response_model)
        if result.finish_reasons:
            self._span.set_attribute("gen_ai.response.finish_reasons", result.finish_reasons)

    def _set_usage(self, usage: Usage | None, cost: Decimal | None) -> None:
        if usage is not None:
            self._span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            self._span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
            if usage.estimated:
                self._span.set_attribute("calcifer.usage.estimated", True)
            if usage.clamped:
                self._span.set_attribute("calcifer.usage.clamped", True)
            if usage.service_tier:
                self._span.set_attribute("calcifer.usage.service_tier", usage.service_tier)
        if cost is not None:
            self._span.set_attribute("calcifer.cost.usd", format_usd(cost))
