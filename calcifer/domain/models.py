"""What the gateway knows of a model: where it is served, how requests spread, what it costs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from calcifer.domain.cache_policy import CacheOverride
from calcifer.domain.price_schedule import PriceSchedule
from calcifer.domain.pricing import Price

__all__ = ["STRATEGIES", "Deployment", "ModelMode", "ModelSpec"]

STRATEGIES = ("weighted", "least_inflight", "lowest_latency")


class ModelMode(StrEnum):
    """What a model does: answer conversations, or turn text into vectors."""

    CHAT = "chat"
    EMBEDDING = "embedding"


@dataclass(frozen=True, slots=True)
class Deployment:
    """One place a model is served: a provider and the model id it knows it by."""

    provider_id: str
    upstream_model: str
    weight: float = 1.0

    @property
    def key(self) -> str:
        return f"{self.provider_id}:{self.upstream_model}"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    """The public name clients ask for."""
    provider_id: str
    """The provider of the first deployment (the only one, for most models)."""
    upstream_model: str
    """The model id sent to that provider."""
    price: Price
    aliases: tuple[str, ...] = ()
    context_window: int | None = None
    max_output_tokens: int | None = None
    description: str = ""
    deployments: tuple[Deployment, ...] = ()
    """Where the model is served; one deployment built from provider/upstream_model by default."""
    strategy: str = "weighted"
    """How requests spread over deployments: weighted, least_inflight or lowest_latency."""
    fallbacks: tuple[str, ...] = ()
    """Models to try, in order, when every deployment of this one has failed or is open."""
    context_window_fallbacks: tuple[str, ...] = ()
    """Models to try when the provider says the prompt does not fit this model's context."""
    mode: ModelMode = ModelMode.CHAT
    """Chat models serve the chat dialects, embedding models only `/v1/embeddings`."""
    schedule: PriceSchedule | None = None
    """Dated price lists, when the model's prices change on a date; `price` is then the list
    in force when the catalog was loaded."""
    deprecated_on: date | None = None
    retires_on: date | None = None
    """From this day (UTC) the provider no longer serves the model."""
    replacement: str | None = None
    """The model the provider names as the successor."""
    cache: CacheOverride | None = None
    """The catalog's `cache:` section of the model: overrides the gateway's for this model."""

    def __post_init__(self) -> None:
        if not self.deployments:
            object.__setattr__(self, "deployments", (Deployment(self.provider_id, self.upstream_model),))

    def price_at(self, moment: datetime) -> Price:
        """The price list in force at `moment` (a request's start)."""
        return self.price if self.schedule is None else self.schedule.at(moment)

    def on(self, deployment: Deployment) -> ModelSpec:
        """This model as served by one of its deployments."""
        if deployment.provider_id == self.provider_id and deployment.upstream_model == self.upstream_model:
            return self
        return replace(self, provider_id=deployment.provider_id, upstream_model=deployment.upstream_model)
