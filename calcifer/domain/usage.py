"""Token usage in explicit buckets, so every bucket is priced once and only once.

Providers report usage in different shapes (some count cached tokens inside the prompt
total, some beside it). Each adapter converts its provider's report into these
disjoint buckets; nothing above the adapters needs to know the provider's convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

__all__ = ["Usage", "usage_document", "usage_from_document"]

_NO_CALLS: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Usage:
    """Disjoint token buckets of one request: a token is counted in exactly one of them."""

    input_tokens: int = 0
    """Prompt text tokens read at the full input price (not served from a cache)."""
    cache_read_tokens: int = 0
    """Prompt tokens served from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Prompt tokens written into the provider's prompt cache (the 5-minute TTL, or the only one)."""
    output_tokens: int = 0
    """Generated text tokens the client sees, reasoning excluded."""
    reasoning_tokens: int = 0
    """Generated tokens spent on hidden reasoning."""
    cache_write_1h_tokens: int = 0
    """Prompt tokens written into a 1-hour cache (Anthropic's `ttl: 1h`)."""
    input_audio_tokens: int = 0
    """Prompt tokens of audio (not cached)."""
    output_audio_tokens: int = 0
    """Generated tokens of audio."""
    input_image_tokens: int = 0
    """Prompt tokens of images, where the provider reports them apart (and prices them so)."""
    output_image_tokens: int = 0
    """Generated tokens of images."""
    tool_calls: Mapping[str, int] = field(default_factory=lambda: _NO_CALLS, hash=False)
    """Server-side tool calls the provider bills per call, by tool name (`web_search`...)."""
    service_tier: str | None = None
    """The service tier the provider says served the request, as it named it."""
    estimated: bool = False
    """True when the provider never reported usage and the gateway counted it itself."""
    clamped: bool = False
    """True when the provider's report was impossible (a subset larger than its total) and was
    cut down to a possible one."""

    @property
    def prompt_tokens(self) -> int:
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.cache_write_1h_tokens
            + self.input_audio_tokens
            + self.input_image_tokens
        )

    @property
    def completion_tokens(self) -> int:
        return (
            self.output_tokens + self.reasoning_tokens + self.output_audio_tokens + self.output_image_tokens
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_document(usage: Usage) -> dict[str, Any]:
    """The usage as plain JSON values (a stored cache entry keeps it so)."""
    document = {name: getattr(usage, name) for name in _FIELD_NAMES}
    document["tool_calls"] = dict(usage.tool_calls)
    return document


_FIELD_NAMES = tuple(item.name for item in fields(Usage))
"""Read once: `fields()` on every cache store was a third of an entry's encoding."""


def usage_from_document(document: dict[str, Any]) -> Usage:
    """The usage `usage_document` wrote; fields it did not write keep their defaults."""
    calls = document.get("tool_calls") or {}
    return Usage(**{**document, "tool_calls": MappingProxyType(dict(calls)) if calls else _NO_CALLS})
