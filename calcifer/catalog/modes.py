"""What a model's mode (chat or embedding) asks of its entry: its prices, and fallbacks of the
same mode. The schema cannot say it in words a catalog author would read, so it is checked here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from calcifer.catalog.yaml_source import SourceDocument
from calcifer.domain.models import ModelMode
from calcifer.errors import Problem

__all__ = ["fallback_mode_mismatch", "mode_of", "mode_problems"]

_GENERATION_PRICES = (
    "output", "cached_input", "cache_write", "cache_write_1h", "reasoning", "output_audio", "output_image",
    "long_context",
)


def mode_of(raw: Any) -> ModelMode:
    """The mode a model entry declares (chat when it says none, or cannot be read)."""
    mode = raw.get("mode") if isinstance(raw, dict) else None
    return ModelMode.EMBEDDING if mode == ModelMode.EMBEDDING.value else ModelMode.CHAT


def mode_problems(document: SourceDocument, name: str, raw: dict[str, Any]) -> Iterator[Problem]:
    """A chat model needs an output price; an embedding model is priced by its input alone and
    generates nothing."""
    path = ("models", name)
    dated = isinstance(raw["pricing"], list)
    for index, pricing in enumerate(raw["pricing"] if dated else [raw["pricing"]]):
        where = (*path, "pricing", index) if dated else (*path, "pricing")
        yield from _list_problems(document, where, pricing, mode_of(raw))
    if mode_of(raw) is ModelMode.CHAT:
        return
    if "max_output_tokens" in raw:
        yield document.problem(
            (*path, "max_output_tokens"), "an embedding model generates no tokens", at_key=True
        )


def _list_problems(
    document: SourceDocument, where: tuple[str | int, ...], pricing: dict[str, Any], mode: ModelMode
) -> Iterator[Problem]:
    if mode is ModelMode.CHAT:
        if "output" not in pricing:
            yield document.problem(where, "'output' is a required key for a chat model")
        return
    for key in _GENERATION_PRICES:
        if key in pricing:
            message = "an embedding model is priced by 'input' alone (USD per 1M input tokens)"
            yield document.problem((*where, key), message, at_key=True)


def fallback_mode_mismatch(model: Any, target_name: str, target: Any) -> str | None:
    """Why a fallback cannot serve the model's requests: a chat model cannot fall back to an
    embedding model, nor the reverse."""
    mode, target_mode = mode_of(model), mode_of(target)
    if mode is target_mode:
        return None
    return f"'{target_name}' is {_a(target_mode)} model; this one is {_a(mode)} model"


def _a(mode: ModelMode) -> str:
    return "an embedding" if mode is ModelMode.EMBEDDING else "a chat"
