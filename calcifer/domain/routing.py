"""Model routing: a name or alias to its model, through an index built once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from calcifer.domain.lifecycle import Lifecycle
from calcifer.domain.models import ModelMode, ModelSpec
from calcifer.errors import InvalidRequest, ModelNotFound, ProviderMismatch

__all__ = ["ModelRouter"]


class ModelRouter:
    def __init__(self, models: Iterable[ModelSpec], lifecycle: Lifecycle | None = None) -> None:
        self._models = tuple(models)
        self._lifecycle = lifecycle or Lifecycle()
        self._by_name: dict[str, ModelSpec] = {}
        for model in self._models:
            for name in (model.name, *model.aliases):
                self._by_name[name] = model

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return self._models

    def route(self, name: str, provider_hint: str | None = None, mode: ModelMode | None = None) -> ModelSpec:
        """The model serving `name`, restricted to `provider_hint` when given; a model whose
        mode is not `mode` (when given) is the client's mistake, a 400 naming its mode."""
        model = self._by_name.get(name)
        if model is None:
            raise ModelNotFound(name)
        model = self._lifecycle.serving(model, self._by_name.get)
        if mode is not None and model.mode is not mode:
            raise InvalidRequest(_mode_mismatch(name, model.mode), param="model")
        if provider_hint is None:
            return model
        serving = sorted({d.provider_id for d in model.deployments})
        if provider_hint not in serving:
            raise ProviderMismatch(
                f"The model '{name}' is not served by provider '{provider_hint}' "
                f"(it is served by {', '.join(repr(p) for p in serving)})",
                param="X-Provider",
            )
        # The client pinned a provider: no fallback to models it did not ask for.
        return replace(model, fallbacks=(), context_window_fallbacks=())


def _mode_mismatch(name: str, mode: ModelMode) -> str:
    if mode is ModelMode.EMBEDDING:
        return f"The model '{name}' is an embedding model (mode: embedding): use it with /v1/embeddings"
    return (
        f"The model '{name}' is a chat model (mode: chat): /v1/embeddings needs a model whose mode "
        "is 'embedding'"
    )
