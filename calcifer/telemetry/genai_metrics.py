"""OpenTelemetry's GenAI metrics, exported over OTLP/HTTP when `OTEL_METRICS_EXPORTER=otlp`.

`gen_ai.client.token.usage`, `gen_ai.server.request.duration` and
`gen_ai.server.time_to_first_token`, with the GenAI semantic conventions' attributes
(`gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.token.type`,
`error.type`). One reading per model-serving request, from the same sample `/metrics` gets.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from calcifer import __version__
from calcifer.settings import TelemetrySettings
from calcifer.telemetry.metrics import RequestSample

__all__ = ["GenAiMetrics", "build_meter_provider"]

# Route → `gen_ai.operation.name`; other routes (models, count_tokens, admin) are not model calls.
_OPERATIONS = {
    "chat": "chat",
    "completions": "chat",
    "messages": "chat",
    "responses": "chat",
    "embeddings": "embeddings",
}
# The conventions' advised bucket boundaries.
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_SECONDS_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_FIRST_TOKEN_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


def build_meter_provider(settings: TelemetrySettings) -> MeterProvider | None:
    """A meter provider exporting every `metrics_export_ms`, or None when nothing exports."""
    exporter = _exporter(settings)
    if exporter is None:
        return None
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=settings.metrics_export_ms)
    views = [
        View(instrument_name="gen_ai.client.token.usage", aggregation=_buckets(_TOKEN_BUCKETS)),
        View(instrument_name="gen_ai.server.request.duration", aggregation=_buckets(_SECONDS_BUCKETS)),
        View(instrument_name="gen_ai.server.time_to_first_token", aggregation=_buckets(_FIRST_TOKEN_BUCKETS)),
    ]
    resource = Resource.create({"service.name": settings.service_name, "service.version": __version__})
    return MeterProvider(metric_readers=[reader], resource=resource, views=views)


def _buckets(bounds: tuple[float, ...]) -> ExplicitBucketHistogramAggregation:
    return ExplicitBucketHistogramAggregation(boundaries=bounds)


def _exporter(settings: TelemetrySettings) -> MetricExporter | None:
    if settings.metrics_exporter == "console":
        return ConsoleMetricExporter(out=sys.stdout)
    if settings.metrics_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        endpoint = settings.otlp_metrics_endpoint or settings.otlp_endpoint.rstrip("/") + "/v1/metrics"
        return OTLPMetricExporter(endpoint=endpoint, headers=dict(settings.otlp_headers))
    return None


class GenAiMetrics:
    """Records a request's sample on the GenAI instruments of `meter_provider`."""

    def __init__(self, meter_provider: MeterProvider, provider_name: Callable[[str], str]) -> None:
        """`provider_name`: a catalog provider id → the conventions' name (`openai`, `gcp.gemini`)."""
        meter = meter_provider.get_meter("calcifer", __version__)
        self._provider_name = provider_name
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used, by type"
        )
        self._duration = meter.create_histogram(
            "gen_ai.server.request.duration", unit="s", description="Time to the end of the answer"
        )
        self._first_token = meter.create_histogram(
            "gen_ai.server.time_to_first_token", unit="s", description="Time to a stream's first chunk"
        )

    def record(self, sample: RequestSample) -> None:
        operation = _OPERATIONS.get(sample.route)
        if operation is None or not sample.model:
            return
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": self._provider_name(sample.provider),
            "gen_ai.request.model": sample.model,
            "calcifer.route": sample.route,
        }
        if sample.status >= 400:
            attributes["error.type"] = str(sample.status)
        self._duration.record(sample.duration_seconds, attributes)
        if sample.first_token_seconds is not None:
            self._first_token.record(sample.first_token_seconds, attributes)
        usage = sample.usage
        if usage is not None:
            self._tokens.record(usage.prompt_tokens, {**attributes, "gen_ai.token.type": "input"})
            self._tokens.record(usage.completion_tokens, {**attributes, "gen_ai.token.type": "output"})
