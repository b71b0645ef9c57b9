"""Chat requests, completions and stream chunks as the gateway passes them around.

The canonical shape is the chat-completions schema that every client SDK already
speaks (messages, tools, choices, deltas). Bodies stay plain dicts, because the gateway
forwards fields it does not know; the few things it must read are lifted into typed
attributes once, when the request is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from calcifer.domain.models import ModelSpec
from calcifer.domain.usage import Usage

__all__ = ["ChatRequest", "Chunk", "Completion", "PricedCompletion"]

JsonObject = dict[str, Any]


@dataclass(slots=True)
class ChatRequest:
    """A validated request; `body` holds every field the client sent."""

    model: str
    body: JsonObject
    stream: bool = False
    include_usage: bool = False
    """The client asked for the final usage chunk (`stream_options.include_usage`)."""
    provider_hint: str | None = None
    """Only this provider may serve the request (the `X-Provider` header)."""
    metadata: JsonObject | None = None
    """Caller-supplied tags (team, feature...) recorded with the request, not sent upstream
    by the seed API."""

    @property
    def messages(self) -> list[JsonObject]:
        messages: list[JsonObject] = self.body["messages"]
        return messages


@dataclass(slots=True)
class Completion:
    """A whole `chat.completion` object and its usage in buckets."""

    body: JsonObject
    usage: Usage


@dataclass(slots=True)
class Chunk:
    """One `chat.completion.chunk`.

    `raw` is the chunk's JSON text exactly as the provider sent it, kept so the HTTP
    layer can forward it without encoding it again; it is dropped (set to None) as soon
    as anyone changes `data`.
    """

    data: JsonObject
    raw: bytes | None = None
    usage: Usage | None = None
    """Set on the chunk that carries the provider's final usage report."""
    more: bool = False
    """More chunks are already at hand: a writer may hold this one and send them together."""
    usage_so_far: Usage | None = None
    """What the provider has reported before the end (Anthropic's message_start, Gemini's
    running counts); used to price a stream that ends before its final report."""


@dataclass(slots=True)
class PricedCompletion:
    completion: Completion
    model: ModelSpec
    cost: Decimal
    upstream_seconds: float = 0.0
    """Time spent waiting for the provider; the rest of the request's time is the gateway's."""
    attempts: int = 1
    """Calls made to the provider to get this answer."""
