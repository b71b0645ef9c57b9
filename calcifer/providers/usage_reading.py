"""Reading a vendor's usage report, which is the upstream's word and may be malformed.

A count that is not a non-negative integer (`"prompt_tokens": "abc"`, details sent as a
list) makes the whole report unreadable: the adapters then price the answer on an
estimate, flagged as such, rather than failing a request the client was answered. A report
that is readable but impossible (more cached tokens than prompt tokens) is clamped to a
possible one and flagged `clamped`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from calcifer.domain.embeddings import embedding_inputs
from calcifer.domain.estimate import estimate_usage, input_tokens, prompt_characters
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage

__all__ = [
    "UnreadableUsage",
    "clamped",
    "estimated_input_usage",
    "estimated_usage",
    "read_usage",
    "tokens",
    "tool_calls",
]

_REMAINDERS = (
    # (a bucket the reader computed as a total minus subsets, those subsets in the order they
    # give way when the total is smaller than their sum)
    ("cache_write_tokens", ("cache_write_1h_tokens",)),
    (
        "input_tokens",
        (
            "cache_read_tokens",
            "cache_write_tokens",
            "cache_write_1h_tokens",
            "input_audio_tokens",
            "input_image_tokens",
        ),
    ),
    ("output_tokens", ("reasoning_tokens", "output_audio_tokens", "output_image_tokens")),
)


class UnreadableUsage(ValueError):
    """A usage report with a count that is not a count."""


def tokens(report: Mapping[str, Any], *path: str) -> int:
    """The count at `path` in `report`: missing or null is 0, anything else must be a
    non-negative integer (and every step of the path an object)."""
    value: Any = report
    for key in path:
        if value is None:
            return 0
        if not isinstance(value, Mapping):
            raise UnreadableUsage(f"{key!r} is not inside an object")
        value = value.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnreadableUsage(f"{path[-1]!r} is not a count of tokens")
    return value


def read_usage(reader: Callable[[Mapping[str, Any]], Usage], report: object) -> Usage | None:
    """`reader`'s reading of `report`, or None when the report is missing or unreadable."""
    if not isinstance(report, Mapping):
        return None
    try:
        usage = reader(report)
    except UnreadableUsage:
        return None
    return clamped(usage)


def clamped(usage: Usage) -> Usage:
    """`usage` when possible; else cut down to the provider's totals (a subset larger than its
    total gives way) and flagged `clamped`: the total is what the provider bills."""
    changes: dict[str, Any] = {}
    for remainder, subsets in _REMAINDERS:
        deficit = -changes.get(remainder, getattr(usage, remainder))
        if deficit <= 0:
            continue
        changes[remainder] = 0
        for subset in subsets:
            count = changes.get(subset, getattr(usage, subset))
            taken = min(count, deficit)
            changes[subset], deficit = count - taken, deficit - taken
    return replace(usage, **changes, clamped=True) if changes else usage


def tool_calls(**counts: int) -> Mapping[str, int]:
    """Server-tool calls by tool name, the tools not called left out."""
    return {tool: count for tool, count in counts.items() if count}


def estimated_usage(call: UpstreamCall, answer_characters: int) -> Usage:
    """An answer's usage counted by the gateway, for a provider that reported none readable."""
    return estimate_usage(None, prompt_characters(call.request.messages), answer_characters)


def estimated_input_usage(call: UpstreamCall) -> Usage:
    """An embeddings request's usage counted by the gateway (token arrays exactly, text at four
    characters a token), for a provider that reported none readable."""
    return Usage(input_tokens=input_tokens(embedding_inputs(call.request.body)), estimated=True)
