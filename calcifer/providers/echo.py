"""The `echo` provider: answers with the conversation it was sent, offline and free of keys.

Kept from the seeds for development and tests: each message comes back as a
`[role]: content` line, tokens are counted in words, and streams go word by word for the
first words, then in pieces of a few kilobytes. A `max_tokens` limit, or else the model's
`max_output_tokens`, cuts the echo short with finish reason `length`: one large request
must not become a stream of a million tiny events. Sampling and
similar settings are accepted and change nothing (an echo is deterministic); what would
change the answer's shape (tools, images, JSON modes, several choices...) is refused.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.embeddings import Embeddings
from calcifer.domain.estimate import word_count
from calcifer.domain.provider import (
    CHAT_PARAMETERS,
    OtherFields,
    ParameterPolicy,
    ParameterRule,
    UpstreamCall,
    refused,
    translated,
)
from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as wire
from calcifer.providers.echo_embeddings import EMBEDDINGS, echo_embeddings
from calcifer.providers.parameters import content_parts, inert, only, response_format_types
from calcifer.transport.registry import Transports

__all__ = ["PARAMETERS", "EchoProvider"]

_WORD = re.compile(r"\S+\s*")
_WORDS_ONE_BY_ONE = 32
"""Streamed word by word, so a short echo looks like a model typing (and the seed's
`Test message` comes as `[user]: `, `Test `, `message`)."""
_PIECE_CHARACTERS = 4096
"""The rest of a long echo, streamed in pieces of this size."""

_NO_EFFECT = translated("no effect: an echo is deterministic and offline")
_SHAPED: dict[str, ParameterRule] = {
    "messages": translated(
        "echoed as `[role]: content` lines", content_parts(), "text parts only; images need vision"
    ),
    "model": translated("the catalog's `upstream_model`, named in the answer"),
    "max_tokens": translated("cuts the echo after that many words (finish reason length)"),
    "max_completion_tokens": translated("cuts the echo after that many words (finish reason length)"),
    "stream": translated("the echo streamed word by word, then in pieces of 4 kB"),
    "stream_options": translated("honoured by the gateway"),
    "metadata": translated("kept by the gateway (recorded with the request)"),
    "tools": refused("the echo calls no tools"),
    "functions": refused("the echo calls no functions"),
    "tool_choice": refused("the echo calls no tools", only("none", "auto"), "none, auto"),
    "function_call": refused("the echo calls no functions", only("none", "auto"), "none, auto"),
    "response_format": refused("the echo has no JSON mode", response_format_types("text"), "text"),
    "audio": refused("the echo answers in text only"),
    "web_search_options": refused("the echo is offline"),
    **{
        name: inert(name, "the echo has one text choice and no log probabilities")
        for name in (
            "n",
            "logprobs",
            "top_logprobs",
            "modalities",
        )
    },
}
PARAMETERS = ParameterPolicy(
    {name: _SHAPED.get(name, _NO_EFFECT) for name in CHAT_PARAMETERS},
    OtherFields(None, "accepted; no effect"),
    embeddings=EMBEDDINGS,
)


class EchoProvider:
    def __init__(self, config: ProviderConfig, transports: Transports) -> None:
        """`transports` is not used: echo makes no upstream calls."""
        self._id = config.id

    @property
    def id(self) -> str:
        return self._id

    @property
    def parameters(self) -> ParameterPolicy:
        return PARAMETERS

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
        for piece in _pieces(reply.text):
            yield wire.delta_chunk(envelope, {"content": piece})
        yield wire.delta_chunk(envelope, {}, reply.finish_reason)
        yield wire.usage_chunk(envelope, reply.usage, wire.usage_totals(reply.usage))

    async def embed(self, call: UpstreamCall) -> Embeddings:
        return echo_embeddings(call)

    async def aclose(self) -> None:
        return None


class _Reply:
    def __init__(self, call: UpstreamCall, lines: list[str], prompt_words: int) -> None:
        limit = (
            call.request.body.get("max_tokens")
            or call.request.body.get("max_completion_tokens")
            or call.model.max_output_tokens
        )
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


def _pieces(text: str) -> Iterator[str]:
    words = _WORD.finditer(text)
    end = 0
    for word in itertools.islice(words, _WORDS_ONE_BY_ONE):
        end = word.end()
        yield word.group()
    for start in range(end, len(text), _PIECE_CHARACTERS):
        yield text[start : start + _PIECE_CHARACTERS]


def _truncate(text: str, limit: int | None) -> tuple[str, str]:
    """Cut the echo after `limit` content words (role tags are free), as a model would stop."""
    if limit is None:
        return text, wire.STOP
    kept: list[str] = []
    words = 0
    for match in _WORD.finditer(text):  # not findall: a long echo cut short is not split whole
        piece = match.group()
        is_tag = piece.startswith("[") and piece.rstrip().endswith("]:")
        if not is_tag:
            if words == limit:
                return "".join(kept).rstrip(), wire.LENGTH
            words += 1
        kept.append(piece)
    return text, wire.STOP
