"""Chat requests, completions and stream chunks as the gateway passes them around.

The canonical shape is the chat-completions schema that every client SDK already
speaks (messages, tools, choices, deltas; see `calcifer.formats.openai_chat`). Bodies stay
plain dicts, because the gateway forwards fields it does not know; the few things it must
read are lifted into typed attributes once: when the request is parsed, and, for answers,
by the adapter that made them. The domain never reads an answer's body.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from calcifer.domain.billing import Pricer
from calcifer.domain.dialect import Dialect, NativeRequest, Untranslatable
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
    dialect: Dialect = Dialect.OPENAI_CHAT
    """The protocol the client speaks (and is answered in)."""
    native: NativeRequest | None = None
    """The client's own request, when its dialect is not the canonical one: a provider that
    speaks that dialect (`ParameterPolicy.native_dialects`) is sent this instead of `body`."""
    untranslatable: tuple[Untranslatable, ...] = ()
    """What `body` (the canonical translation of `native`) could not express: a provider that
    needs the translation refuses the request with the first of these."""

    @property
    def messages(self) -> list[JsonObject]:
        messages: list[JsonObject] = self.body["messages"]
        return messages


@dataclass(slots=True)
class Completion:
    """A whole answer (a `chat.completion` body), its usage in buckets, and what the adapter
    read from it for the gateway's records."""

    body: JsonObject
    usage: Usage
    response_id: str | None = None
    """The provider's id for the response."""
    response_model: str | None = None
    """The model that answered, as the provider names it."""
    finish_reasons: tuple[str, ...] = ()
    """Why each choice stopped (`stop`, `length`, `tool_calls`, `content_filter`)."""
    native: bool = False
    """`body` is in the request's own dialect (a pass-through), not a `chat.completion`."""


@dataclass(slots=True)
class Chunk:
    """One piece of a streamed answer.

    `data` is the piece in the canonical wire shape (a `chat.completion.chunk`), for the HTTP
    renderers; `raw` is its JSON text exactly as the provider sent it, when it did, so that a
    renderer can forward it without encoding it again. Both belong to the adapter that made
    them: nobody else changes them (a renderer that must send something else sends a copy).
    The domain never reads them: what it needs, the adapter reports in the other fields.
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
    text_chars: int = 0
    """Characters of generated text in this chunk (content, reasoning, tool-call arguments):
    what a stream cut before its usage report is priced on."""
    finish_reasons: tuple[str, ...] = ()
    """Why the answer (each of its choices) stopped, on the chunk that says so."""
    response_id: str | None = None
    """The provider's id for the response, on at least the first chunk that knows it."""
    response_model: str | None = None
    """The model that answered, on the same chunks as `response_id`."""
    native: bool = False
    """A pass-through event in the request's own dialect: `raw` is the whole SSE frame as the
    provider sent it (`event:` and `data:` lines and the blank line), to be written unchanged;
    `data` is its parsed payload."""


@dataclass(slots=True)
class PricedCompletion:
    completion: Completion
    model: ModelSpec
    cost: Decimal
    upstream_seconds: float = 0.0
    """Time spent waiting for the provider; the rest of the request's time is the gateway's."""
    attempts: int = 1
    """Calls made to the provider to get this answer."""
    pricer: Pricer | None = None
    """The price list and tier that priced it."""
