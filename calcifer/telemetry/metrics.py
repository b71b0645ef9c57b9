"""Prometheus metrics of the gateway, summed over every worker of a machine.

With several workers each one writes its samples to memory-mapped files in a directory the
manager made (prometheus_client's multiprocess mode, `PROMETHEUS_MULTIPROC_DIR`), and whichever
worker answers a scrape reads them all: counters of a worker that died are kept, its gauges
dropped (`forget_process`). One worker alone keeps its samples in memory. Names and labels are
documented in docs/observability.md; labels take values only from the catalog and fixed sets,
except `key` (only with `metrics.per_key`).
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from calcifer.domain.usage import Usage

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROCESS_DIR_ENV",
    "GatewayMetrics",
    "RequestSample",
    "forget_process",
    "prepare_multiprocess_dir",
    "remove_multiprocess_dir",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_OURS_MARKER = ".calcifer-metrics"
"""A file in a directory the gateway made itself: only such a directory is removed at exit."""

_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_TOKEN_TYPES = ("input", "cached_input", "cache_write", "reasoning", "output")
_CACHE_BYTES = "calcifer_cache_bytes"


@dataclass(frozen=True, slots=True)
class RequestSample:
    """One finished API request, as the metrics see it."""

    route: str
    model: str
    """The catalog model that served it; empty when none did (refused, unknown model)."""
    provider: str
    status: int
    duration_seconds: float
    overhead_seconds: float
    first_token_seconds: float | None = None
    usage: Usage | None = None
    cost: Decimal | None = None
    retried_attempts: int = 0
    """Attempts made before the one that answered (or the last one that failed)."""
    refused_by: str | None = None
    """`rate_limited` or `budget_exceeded` when admission refused the request."""
    refused_scope: str | None = None
    """`key` or `team`: whose limit refused it."""
    key_id: str | None = None
    cache_result: str | None = None
    """`hit`, `miss` or `bypass` when the response cache was on for the request's model."""


class GatewayMetrics:
    """The gateway's metric families; `record` is called once per finished request."""

    def __init__(self, per_key: bool = False) -> None:
        self._per_key = per_key
        self._samples_dir = os.environ.get(MULTIPROCESS_DIR_ENV)
        self._multiprocess = self._samples_dir is not None
        # Metrics live in a registry of their own (never the library's global one), so that
        # several gateways in one process (tests) do not collide.
        self._registry = CollectorRegistry(auto_describe=False)
        made = None if self._multiprocess else self._registry
        self._define_request_families(made, ("key",) if per_key else ())
        self._define_state_families(made)
        self._children: dict[tuple[Any, ...], Any] = {}
        self._scraped = self._scrape_registry()
        self._cache_bytes: Gauge | None = None
        self._read_cache_bytes: Callable[[], int] | None = None

    def _define_request_families(self, made: CollectorRegistry | None, key: tuple[str, ...]) -> None:
        """What each finished request adds to (`record`)."""
        self._requests = Counter(
            "calcifer_requests",
            "API requests answered",
            ("route", "model", "provider", "status", *key),
            registry=made,
        )
        self._duration = Histogram(
            "calcifer_request_duration_seconds",
            "Time from request to the end of its answer",
            ("route", "model", "provider"),
            buckets=_DURATION_BUCKETS,
            registry=made,
        )
        self._first_token = Histogram(
            "calcifer_time_to_first_token_seconds",
            "Time from request to a stream's first chunk",
            ("model", "provider"),
            buckets=_DURATION_BUCKETS,
            registry=made,
        )
        self._overhead = Histogram(
            "calcifer_gateway_overhead_seconds",
            "Time spent in the gateway, the provider's excluded",
            ("route",),
            buckets=_OVERHEAD_BUCKETS,
            registry=made,
        )
        self._tokens = Counter(
            "calcifer_tokens", "Tokens by usage bucket", ("model", "provider", "type"), registry=made
        )
        self._cost = Counter(
            "calcifer_cost_usd", "Recorded cost in USD", ("model", "provider", *key), registry=made
        )
        self._attempts = Counter(
            "calcifer_upstream_attempts",
            "Calls to providers by outcome",
            ("provider", "outcome"),
            registry=made,
        )
        self._rate_limited = Counter(
            "calcifer_rate_limited",
            "Requests refused by a key's or team's rate limit",
            ("scope",),
            registry=made,
        )
        self._budget_exceeded = Counter(
            "calcifer_budget_exceeded",
            "Requests refused by an exhausted budget",
            ("scope",),
            registry=made,
        )
        self._cache = Counter(
            "calcifer_cache_requests", "Requests by what the response cache did", ("result",), registry=made
        )

    def _define_state_families(self, made: CollectorRegistry | None) -> None:
        """Gauges of what a worker holds now (summed over the live workers)."""
        self.inflight = Gauge(
            "calcifer_inflight_requests",
            "API requests being served",
            registry=made,
            multiprocess_mode="livesum",
        )
        self.ledger_queue = Gauge(
            "calcifer_ledger_queue_depth",
            "Ledger records waiting to be written",
            registry=made,
            multiprocess_mode="livesum",
        )
        self.ledger_spooled = Gauge(
            "calcifer_ledger_spooled_records", "Ledger records kept on disk while the database is away",
            registry=made, multiprocess_mode="livesum",
        )  # fmt: skip

    def watch_cache_bytes(self, read: Callable[[], int]) -> None:
        """Report the in-process response cache's size (`read`: this worker's bytes), set by
        `sample_cache_bytes`. Not called for Redis: the gateway does not measure Redis, and a
        gauge that said 0 would be a lie (see docs/observability.md)."""
        self._read_cache_bytes = read
        self._cache_bytes = Gauge(
            _CACHE_BYTES,
            "Bytes of answers the in-process response cache holds, summed over live workers",
            registry=None if self._multiprocess else self._registry,
            multiprocess_mode="livesum",
        )

    def sample_cache_bytes(self) -> None:
        """This worker's cache size into the gauge (the gateway does it once a second)."""
        if self._cache_bytes is not None and self._read_cache_bytes is not None:
            self._cache_bytes.set(self._read_cache_bytes())

    def cache_bytes(self) -> int | None:
        """What a scrape would say `calcifer_cache_bytes` is now: the sum over live workers
        (None without an in-process cache). Reads only the live gauges' files."""
        if self._read_cache_bytes is None:
            return None
        if self._samples_dir is None:
            return self._read_cache_bytes()  # one worker: its own cache, read now
        from prometheus_client.multiprocess import MultiProcessCollector

        files = glob.glob(os.path.join(self._samples_dir, "gauge_livesum_*.db"))
        families = MultiProcessCollector.merge(files, accumulate=False)  # type: ignore[no-untyped-call]
        samples = [s.value for f in families if f.name == _CACHE_BYTES for s in f.samples]
        return int(sum(samples))

    def watch_breakers(self, read: Callable[[], Iterable[tuple[str, str, bool]]]) -> None:
        """Report breakers at scrape time through `read` (provider, deployment, open)."""
        self._scraped.register(BreakerCollector(read))

    def _scrape_registry(self) -> CollectorRegistry:
        if not self._multiprocess:
            return self._registry
        from prometheus_client import multiprocess

        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry

    def exposition(self) -> bytes:
        """The text exposition of every worker's samples."""
        return generate_latest(self._scraped)

    def record(self, sample: RequestSample) -> None:
        model, provider = sample.model, sample.provider
        status = str(sample.status)
        labels: tuple[str, ...] = (sample.route, model, provider, status)
        if self._per_key:
            labels += (sample.key_id or "",)
        self._child(self._requests, labels).inc()
        self._child(self._duration, (sample.route, model, provider)).observe(sample.duration_seconds)
        self._child(self._overhead, (sample.route,)).observe(max(0.0, sample.overhead_seconds))
        if sample.first_token_seconds is not None:
            self._child(self._first_token, (model, provider)).observe(sample.first_token_seconds)
        if sample.usage is not None:
            self._count_tokens(model, provider, sample.usage)
        if sample.cost:
            cost_labels = (model, provider, sample.key_id or "") if self._per_key else (model, provider)
            self._child(self._cost, cost_labels).inc(float(sample.cost))
        if sample.retried_attempts and provider:
            self._child(self._attempts, (provider, "retried")).inc(sample.retried_attempts)
        if sample.cache_result is not None:
            self._child(self._cache, (sample.cache_result,)).inc()
        if sample.refused_by is not None:
            family = self._rate_limited if sample.refused_by == "rate_limited" else self._budget_exceeded
            self._child(family, (sample.refused_scope or "key",)).inc()

    def attempt(self, provider: str, outcome: str) -> None:
        """One call to a provider ended: `ok`, `failed`, `timeout` or `rate_limited`."""
        self._child(self._attempts, (provider, outcome)).inc()

    def _count_tokens(self, model: str, provider: str, usage: Usage) -> None:
        counts = (
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.reasoning_tokens,
            usage.output_tokens,
        )
        for kind, count in zip(_TOKEN_TYPES, counts, strict=True):
            if count:
                self._child(self._tokens, (model, provider, kind)).inc(count)

    def _child(self, family: Any, labels: tuple[str, ...]) -> Any:
        # `labels()` checks and hashes its arguments on every call (a few µs); the children
        # are looked up once per label set instead.
        key = (id(family), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*labels)
        return child


class BreakerCollector(Collector):
    """`calcifer_breaker_open`, read at scrape time: breakers are shared by the workers, so
    the worker answering sees every deployment's."""

    def __init__(self, read: Callable[[], Iterable[tuple[str, str, bool]]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "calcifer_breaker_open",
            "1 while a deployment's circuit breaker is open or half-open",
            labels=("provider", "deployment"),
        )
        for provider, deployment, is_open in self._read():
            family.add_metric((provider, deployment), 1.0 if is_open else 0.0)
        yield family


def prepare_multiprocess_dir() -> Path:
    """The manager's directory for the workers' samples, set in the environment the workers
    inherit: the operator's own when `PROMETHEUS_MULTIPROC_DIR` is set (emptied of old
    samples), otherwise a new temporary one."""
    given = os.environ.get(MULTIPROCESS_DIR_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.db"):
            old.unlink()  # a previous run's samples would be summed into this one's
        return directory
    directory = Path(tempfile.mkdtemp(prefix="calcifer-metrics-"))
    (directory / _OURS_MARKER).touch()
    os.environ[MULTIPROCESS_DIR_ENV] = str(directory)
    return directory


def remove_multiprocess_dir(directory: Path) -> None:
    if (directory / _OURS_MARKER).exists():
        shutil.rmtree(directory, ignore_errors=True)


def forget_process(pid: int) -> None:
    """A worker died: drop its gauges (its counters stay in the sums)."""
    if MULTIPROCESS_DIR_ENV not in os.environ:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
