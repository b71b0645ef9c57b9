"""`GET /v1/models` and `/v1/models/{name}`: OpenAI's model objects plus price and limits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.access import Principal
from calcifer.domain.models import ModelSpec
from calcifer.domain.pricing import PER_THOUSAND, Price, format_usd
from calcifer.errors import ModelNotFound
from calcifer.http.jsonio import dumps, json_response
from calcifer.http.scope import RequestScope

__all__ = ["ModelListing", "list_models", "retrieve_model"]


class ModelListing:
    """The catalog's models as the API shows them, encoded once per catalog."""

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        models = list(models)
        self._entries = {model.name: _model_entry(model) for model in models}
        self._aliases = {alias: model.name for model in models for alias in model.aliases}
        self._names = {model.name: (model.name, *model.aliases) for model in models}
        self.body = dumps({"object": "list", "data": list(self._entries.values())})

    def body_for(self, principal: Principal) -> bytes:
        """The listing a caller sees: every model, or only those its key may call."""
        if not principal.models:
            return self.body
        allowed = [entry for name, entry in self._entries.items() if principal.may_call(self._names[name])]
        return dumps({"object": "list", "data": allowed})

    def entry(self, name: str) -> dict[str, Any]:
        entry = self._entries.get(self._aliases.get(name, name))
        if entry is None:
            raise ModelNotFound(name)
        return entry


async def list_models(request: Request, scope: RequestScope) -> HTTPResponse:
    return HTTPResponse(scope.serving.listing.body_for(scope.principal), content_type="application/json")


async def retrieve_model(request: Request, scope: RequestScope, name: str) -> HTTPResponse:
    return json_response(scope.serving.listing.entry(name))


def _model_entry(model: ModelSpec) -> dict[str, Any]:
    """OpenAI's model object plus `provider`, `mode` (chat or embedding) and OpenRouter-style
    `pricing` (USD per token)."""
    price = model.price
    return {
        "id": model.name,
        "object": "model",
        "created": 0,
        "owned_by": model.provider_id,
        "provider": model.provider_id,
        "mode": model.mode.value,
        "aliases": list(model.aliases),
        "context_length": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "pricing": listing_prices(price),
    }


# OpenRouter's names where it has one for the same thing, ours otherwise (its `image` and
# `audio` are per image / per audio input, ours are per token: named apart so neither misleads)
_OWN_BUCKETS = {
    "reasoning": "internal_reasoning",
    "cache_write_1h": "input_cache_write_1h",
    "input_audio": "input_audio",
    "output_audio": "output_audio",
    "input_image": "input_image",
    "output_image": "output_image",
}


def listing_prices(price: Price) -> dict[str, str]:
    """A price list as USD per token (per call for tools, per request for `request`) decimal
    strings: the four every model has, then the buckets, fees and tools it prices itself."""
    prices = {
        "prompt": format_usd(price.per_token("input")),
        "completion": format_usd(price.per_token("output")),
        "input_cache_read": format_usd(price.per_token("cached_input")),
        "input_cache_write": format_usd(price.per_token("cache_write")),
    }
    for bucket, key in _OWN_BUCKETS.items():
        if getattr(price, bucket) is not None:
            prices[key] = format_usd(price.per_token(bucket))
    if price.per_request:
        prices["request"] = format_usd(price.per_request)
    for tool, per_thousand in sorted(price.tool_calls.items()):
        prices[tool] = format_usd(per_thousand / PER_THOUSAND)
    return prices
