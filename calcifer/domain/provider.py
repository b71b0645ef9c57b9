"""The contract every provider adapter implements.

An adapter turns a `ChatRequest` into its vendor's API call and the vendor's answer
back into chat-completions objects. Every implementation guarantees:

- `complete` returns a `Completion` whose `usage` is in disjoint buckets (see `Usage`).
- `stream` is an async generator of `Chunk`s; exactly one chunk carries `usage` when
  the provider reports it, and it comes after the last content chunk. Closing the
  generator (or cancelling the task iterating it) closes the upstream connection at once.
- Any failure is raised as a `calcifer.errors.UpstreamError` subclass; no vendor or
  transport exception escapes.
- A request needing a capability the adapter lacks is refused before any call is made;
  nothing is silently dropped (the gateway checks `capabilities`).
- `aclose` releases the adapter's connections; it is called once, when the worker stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from calcifer.domain.chat import ChatRequest, Chunk, Completion
from calcifer.domain.models import ModelSpec

__all__ = ["Capability", "Provider", "UpstreamCall", "required_capabilities"]


class Capability(StrEnum):
    TOOLS = "tools"
    VISION = "vision"
    STRUCTURED_OUTPUT = "response_format"
    LOGPROBS = "logprobs"
    MULTIPLE_CHOICES = "n>1"


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One call to one provider: the request, the model it resolved to, extra headers."""

    request: ChatRequest
    model: ModelSpec
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers to send upstream, such as the W3C `traceparent`."""


class Provider(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    async def complete(self, call: UpstreamCall) -> Completion: ...

    def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]: ...

    async def aclose(self) -> None: ...


def required_capabilities(request: ChatRequest) -> set[Capability]:
    """The capabilities a request needs beyond plain text chat."""
    body = request.body
    needed: set[Capability] = set()
    if body.get("tools") or body.get("functions"):
        needed.add(Capability.TOOLS)
    if body.get("response_format") not in (None, {"type": "text"}):
        needed.add(Capability.STRUCTURED_OUTPUT)
    if body.get("logprobs") or body.get("top_logprobs"):
        needed.add(Capability.LOGPROBS)
    if (body.get("n") or 1) > 1:
        needed.add(Capability.MULTIPLE_CHOICES)
    if any(_has_image(message) for message in request.messages):
        needed.add(Capability.VISION)
    return needed


def _has_image(message: Mapping[str, object]) -> bool:
    content = message.get("content")
    if not isinstance(content, list):
        return False
    return any(isinstance(part, dict) and part.get("type") == "image_url" for part in content)
