"""What the gateway knows of a model: where it is served and what it costs."""

from __future__ import annotations

from dataclasses import dataclass

from calcifer.domain.pricing import Price

__all__ = ["ModelSpec"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    """The public name clients ask for."""
    provider_id: str
    """The catalog id of the provider that serves it."""
    upstream_model: str
    """The model id sent to the provider."""
    price: Price
    aliases: tuple[str, ...] = ()
    context_window: int | None = None
    max_output_tokens: int | None = None
    description: str = ""
