"""Token usage in explicit buckets, so every bucket is priced once and only once.

Providers report usage in different shapes (some count cached tokens inside the prompt
total, some beside it). Each adapter converts its provider's report into these
disjoint buckets; nothing above the adapters needs to know the provider's convention.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Disjoint token buckets of one request."""

    input_tokens: int = 0
    """Prompt tokens read at the full input price (not served from a cache)."""
    cache_read_tokens: int = 0
    """Prompt tokens served from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Prompt tokens written into the provider's prompt cache."""
    output_tokens: int = 0
    """Generated tokens the client sees, reasoning excluded."""
    reasoning_tokens: int = 0
    """Generated tokens spent on hidden reasoning."""
    estimated: bool = False
    """True when the provider never reported usage and the gateway counted it itself."""

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def completion_tokens(self) -> int:
        return self.output_tokens + self.reasoning_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
