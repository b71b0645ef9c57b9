"""The `echo` provider: answers with the conversation it was sent, offline and free of keys.

Kept from the seeds for development and tests: each message comes back as a
`[role]: content` line, tokens are counted in words, and streams go word by word.
A `max_tokens` limit cuts the echo short with finish reason `length`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.estimate import word_count
from calcifer.domain.provider import Capability, UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as wire

__all__ = ["EchoProvider"]

_WORD = re.compile(r"\S+\s*")


class EchoProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self._id = config.id

    @property
    def id(self) -> str:
        return self._id

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset()

    async def complete(self, call: UpstreamCall) -> Completion:
        reply = _Reply.of(call)
        message = {"role": "assistant", "content": reply.text}
        return wire.completion(
            reply.id,
            reply.model,
            message,
            reply.finish_reason,
            reply.usage,
            usage_fields=wire.usage_totals(reply.usage),
            created=reply.created,
        )

    async def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]:
        reply = _Reply.of(call)
        envelope = wire.chunk_envelope(reply.id, reply.model, reply.created)
        yield wire.delta_chunk(envelope, {"role": "assistant", "content": ""})
        for word in _WORD.findall(reply.text):
            yield wire.delta_chunk(envelope, {"content": word})
        yield wire.delta_chunk(envelope, {}, reply.finish_reason)
        yield wire.usage_chunk(envelope, reply.usage, wire.usage_totals(reply.usage))

    async def aclose(self) -> None:
        return None


class _Reply:
    def __init__(self, call: UpstreamCall, lines: list[str], prompt_words: int) -> None:
        limit = call.request.body.get("max_tokens") or call.request.body.get("max_completion_tokens")
        self.model = call.model.upstream_model
        self.id = f"chatcmpl-echo-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.text, self.finish_reason = _truncate("\n".join(lines), limit)
        self.usage = Usage(input_tokens=prompt_words, output_tokens=min(prompt_words, limit or prompt_words))

    @classmethod
    def of(cls, call: UpstreamCall) -> _Reply:
        lines, words = [], 0
        for message in call.request.messages:
            content = _text_of(message.get("content"))
            lines.append(f"[{message.get('role')}]: {content}")
            words += word_count(content)
        return cls(call, lines, words)


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _truncate(text: str, limit: int | None) -> tuple[str, str]:
    """Cut the echo after `limit` content words (role tags are free), as a model would stop."""
    if limit is None:
        return text, wire.STOP
    kept: list[str] = []
    words = 0
    for piece in _WORD.findall(text):
        is_tag = piece.startswith("[") and piece.rstrip().endswith("]:")
        if not is_tag:
            if words == limit:
                return "".join(kept).rstrip(), wire.LENGTH
            words += 1
        kept.append(piece)
    return text, wire.STOP
