"""Token estimates for when a provider never reports usage (echo, or a stream cut short)."""

from __future__ import annotations

import math

__all__ = ["estimate_tokens", "word_count"]


def word_count(text: str) -> int:
    """Whitespace-separated words: the echo provider's (deliberately simple) token count."""
    return len(text.split())


def estimate_tokens(text: str) -> int:
    """About four characters a token, the usual rule of thumb for English BPE vocabularies."""
    return math.ceil(len(text) / 4) if text else 0
