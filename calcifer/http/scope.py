"""What is known of one API request as it is served: filled in by the hooks and the handler."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.trace import Span

from calcifer.domain.access import ANONYMOUS, Principal
from calcifer.domain.admission import Admission
from calcifer.domain.billing import Pricer
from calcifer.domain.caching import ResponseCaching
from calcifer.domain.chat import ChatRequest
from calcifer.domain.gateway import Gateway
from calcifer.domain.models import ModelSpec
from calcifer.domain.ports import Hold
from calcifer.domain.usage import Usage

if TYPE_CHECKING:
    from calcifer.http.api.models import ModelListing

__all__ = ["CLIENT_CLOSED_REQUEST", "OVERHEAD_HEADER", "RequestScope", "ServingCatalog"]

OVERHEAD_HEADER = "X-Calcifer-Overhead-Ms"
_LONGEST_USER = 200
CLIENT_CLOSED_REQUEST = 499
"""The status logged for a client that left before the answer ended (nginx's convention)."""


class ServingCatalog(Protocol):
    """What a request uses of the catalog it is served on (`calcifer.runtime.CatalogScope`)."""

    @property
    def catalog_version(self) -> str: ...

    @property
    def gateway(self) -> Gateway: ...

    @property
    def listing(self) -> ModelListing: ...

    @property
    def caching(self) -> ResponseCaching: ...

    def enter(self) -> None: ...

    def leave(self) -> None: ...


@dataclass(slots=True)
class RequestScope:
    request_id: str
    route: str
    started: float = field(default_factory=time.perf_counter)
    started_at: float = field(default_factory=time.time)
    """Wall-clock start (epoch seconds), for the ledger."""
    principal: Principal = ANONYMOUS
    catalog: ServingCatalog | None = None
    """The catalog this request started on; it serves the request to its end."""
    span: Span | None = None
    span_token: object = None
    """The tracing context to restore when the span ends."""
    status: int = 200
    requested_model: str | None = None
    """The model name the client asked for (before aliases and fallbacks)."""
    admission: Admission | None = None
    hold: Hold | None = None
    """What admission reserved for this request; settled by the settle step on every exit path."""
    attempts: int = 0
    end_user: str | None = None
    """Who the client says the request is for (`X-Calcifer-User`, or OpenAI's `user` field)."""
    first_byte_seconds: float | None = None
    """For a stream: when its first chunk was ready to send, from the request's start."""
    model: str | None = None
    provider: str | None = None
    usage: Usage | None = None
    cost: Decimal | None = None
    pricer: Pricer | None = None
    """The price list and tier that priced the request."""
    stream: bool = False
    error: str | None = None
    log_level: str = "INFO"
    metadata: dict[str, Any] | None = None
    """The client's `metadata` object, recorded on the request's log line."""
    upstream_seconds: float = 0.0
    """Time spent waiting for the provider; everything else is the gateway's own time."""
    finished: float | None = None
    """perf_counter time the request was settled (its answer is complete)."""
    refused_scope: str | None = None
    """The key or team (`key:<id>`, `team:<id>`) whose limit or budget refused the request."""
    counted_in_flight: bool = False
    cache_result: str | None = None
    """What the response cache did (`hit`, `miss`, `bypass`); None when it is off for the model."""
    cache_hit: bool = False
    """Answered from the response cache."""
    saved_usd: Decimal = Decimal(0)
    """On a cache hit: the original answer's cost less what the hit is billed."""
    unbilled_spend: Decimal = Decimal(0)
    """Spend counted against budgets beyond `cost`: a hit's saving with `cache.hits_count_as_spend`."""

    def answered_from_cache(self, saved: Decimal) -> None:
        """The answer came from the response cache, saving `saved` USD of the original's cost."""
        self.cache_hit, self.saved_usd, self.cache_result = True, saved, "hit"
        self.unbilled_spend = self.serving.caching.unbilled_spend(saved)

    @property
    def serving(self) -> ServingCatalog:
        assert self.catalog is not None, "the catalog is pinned before any handler runs"
        return self.catalog

    async def admit(self, request: ChatRequest, model: ModelSpec, end_user: str | None) -> None:
        """Reserve the request's budget and limits before it is served (see `Admission`)."""
        self.requested_model = request.model
        user = end_user or request.body.get("user")
        self.end_user = user[:_LONGEST_USER] if isinstance(user, str) and user else None
        if self.admission is not None:
            self.hold = await self.admission.admit(self.request_id, self.principal, request, model)

    def served_by(self, model: str, provider: str, attempts: int) -> dict[str, str]:
        """Note who serves the request; returns the headers saying so."""
        self.model, self.provider, self.attempts = model, provider, attempts
        return {
            "X-Calcifer-Model": model,
            "X-Calcifer-Provider": provider,
            "X-Calcifer-Attempts": str(attempts),
        }

    def priced(
        self, usage: Usage | None, cost: Decimal | None, upstream_seconds: float, pricer: Pricer | None = None
    ) -> None:
        self.usage, self.cost, self.upstream_seconds = usage, cost, upstream_seconds
        self.pricer = pricer

    def overhead_ms(self) -> float:
        """Milliseconds spent in the gateway so far (or until settled), the provider's time excluded."""
        end = self.finished if self.finished is not None else time.perf_counter()
        return (end - self.started - self.upstream_seconds) * 1000

    def latency_ms(self) -> float:
        end = self.finished if self.finished is not None else time.perf_counter()
        return (end - self.started) * 1000

    def overhead_header(self) -> dict[str, str]:
        return {OVERHEAD_HEADER: f"{self.overhead_ms():.3f}"}
