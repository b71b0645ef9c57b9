"""The client protocols the gateway speaks, and a request as its client sent it.

Every request is served through the canonical chat shape (`calcifer.domain.chat`), except when
the provider that serves it speaks the client's own protocol: then the client's body goes
upstream as sent (only the model name mapped) and the answer comes back untouched. A request
in another dialect therefore carries its original form (`NativeRequest`) beside its canonical
translation, and what the translation could not express (`Untranslatable`): that refuses the
request only on a provider that would need the translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Dialect", "NativeRequest", "Untranslatable"]


class Dialect(StrEnum):
    """A client protocol; the value is what the ledger and the logs record as the route."""

    SEED = "completions"
    """The seeds' `POST /v1/completions` (flat `content`, `{"delta","done"}` events)."""
    OPENAI_CHAT = "chat"
    """OpenAI chat completions: the canonical shape."""
    ANTHROPIC_MESSAGES = "messages"
    OPENAI_RESPONSES = "responses"
    EMBEDDINGS = "embeddings"


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """A request as its client sent it, for a provider that speaks the same dialect."""

    dialect: Dialect
    body: dict[str, Any]
    """The client's body, unchanged (the adapter copies it to map the model name)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """The dialect's own headers of this request (`anthropic-beta`, `anthropic-version`),
    forwarded as received; never remembered from one request to the next."""
    query: str = ""
    """The query string as received (`beta=true`), without the `?`."""


@dataclass(frozen=True, slots=True)
class Untranslatable:
    """A field of a native request the canonical shape cannot express."""

    param: str
    """Where it is in the client's body (`messages[2].content[0].type`)."""
    why: str
    """What it is and why it cannot be translated, for the 400 a translating provider gives."""
