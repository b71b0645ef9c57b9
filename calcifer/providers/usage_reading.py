"""Reading a vendor's usage report, which is the upstream's word and may be malformed.

A count that is not a non-negative integer (`"prompt_tokens": "abc"`, details sent as a
list) makes the whole report unreadable: the adapters then price the answer on an
estimate, flagged as such, rather than failing a request the client was answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from calcifer.domain.embeddings import embedding_inputs
from calcifer.domain.estimate import estimate_usage, input_tokens, prompt_characters
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage

__all__ = ["UnreadableUsage", "estimated_input_usage", "estimated_usage", "read_usage", "tokens"]


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
    return None if min(usage.input_tokens, usage.output_tokens) < 0 else usage


def estimated_usage(call: UpstreamCall, answer_characters: int) -> Usage:
    """An answer's usage counted by the gateway, for a provider that reported none readable."""
    return estimate_usage(None, prompt_characters(call.request.messages), answer_characters)


def estimated_input_usage(call: UpstreamCall) -> Usage:
    """An embeddings request's usage counted by the gateway (token arrays exactly, text at four
    characters a token), for a provider that reported none readable."""
    return Usage(input_tokens=input_tokens(embedding_inputs(call.request.body)), estimated=True)
