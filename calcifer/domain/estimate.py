"""Token estimates for when a provider never reports usage (echo, or a stream cut short)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

from calcifer.domain.usage import Usage

__all__ = ["estimate_tokens", "estimate_usage", "input_tokens", "prompt_characters", "word_count"]


def word_count(text: str) -> int:
    """Whitespace-separated words: the echo provider's (deliberately simple) token count."""
    return len(text.split())


def estimate_tokens(text: str) -> int:
    """About four characters a token, the usual rule of thumb for English BPE vocabularies."""
    return math.ceil(len(text) / 4) if text else 0


def input_tokens(inputs: Iterable[str | list[int]], characters_a_token: int = 4) -> int:
    """Tokens of an embeddings request's inputs: token arrays counted, texts estimated."""
    return sum(
        math.ceil(len(item) / characters_a_token) if isinstance(item, str) else len(item) for item in inputs
    )


def prompt_characters(messages: Iterable[Mapping[str, object]]) -> int:
    """Characters of text in a conversation (images and other parts do not count)."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return total


def estimate_usage(reported: Usage | None, prompt_chars: int, delivered_chars: int) -> Usage:
    """Usage for an answer the provider reported none for, or a stream that ended before its
    final report: what it did report (Anthropic's message_start and message_delta, Gemini's
    running counts), with the output counted from the text delivered (content, reasoning and
    tool-call arguments, four characters a token) when that is more; always flagged.

    The one estimate every provider uses. Its limit: reasoning a provider keeps hidden and
    does not count before the end (OpenAI's o-series on chat completions) cannot be seen, so
    a stream cut during it is priced on the visible text only, and flagged `estimated`."""
    delivered = math.ceil(delivered_chars / 4)
    if reported is None:
        return Usage(input_tokens=math.ceil(prompt_chars / 4), output_tokens=delivered, estimated=True)
    # every bucket the provider reported is kept (cache writes, reasoning so far, tool calls):
    # only the visible output can have grown since
    return replace(reported, output_tokens=max(reported.output_tokens, delivered), estimated=True)
