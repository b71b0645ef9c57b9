"""Messages API stream events → chat completion chunks, usage reported on the way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from calcifer.domain.chat import Chunk
from calcifer.domain.usage import Usage
from calcifer.errors import UpstreamError
from calcifer.formats import openai_chat as wire
from calcifer.providers.anthropic.errors import ERROR_TABLE
from calcifer.providers.anthropic.response import FINISH_REASONS, usage_from_anthropic
from calcifer.providers.upstream_errors import json_object
from calcifer.providers.usage_reading import read_usage

__all__ = ["StreamTranslator", "parse_event"]


class StreamTranslator:
    """Messages API stream events → chat.completion.chunk objects."""

    def __init__(self, provider: str, model: str) -> None:
        self._provider = provider
        self._envelope = wire.chunk_envelope("", model)
        self._tool_indexes: dict[int, int] = {}
        self._usage: dict[str, Any] = {}

    def feed(self, event: dict[str, Any]) -> Iterator[Chunk]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self._envelope.update(id=message.get("id"), model=message.get("model") or self._envelope["model"])
            self._note_usage(message.get("usage"))
            opening = self._chunk({"role": "assistant", "content": ""})
            opening.usage_so_far = self._usage_so_far()
            yield opening
        elif kind == "content_block_start":
            yield from self._block_start(event.get("index", 0), event.get("content_block") or {})
        elif kind == "content_block_delta":
            yield from self._block_delta(event.get("index", 0), event.get("delta") or {})
        elif kind == "message_delta":
            self._note_usage(event.get("usage"))
            reason = (event.get("delta") or {}).get("stop_reason")
            if reason:
                finish = self._chunk({}, FINISH_REASONS.get(reason, wire.STOP))
                finish.usage_so_far = self._usage_so_far()
                yield finish
        elif kind == "message_stop":
            usage = self._usage_so_far()
            if usage is not None:  # else the gateway prices the stream on an estimate
                yield wire.usage_chunk(self._envelope, usage)
        elif kind == "error":
            raise _stream_error(self._provider, event.get("error") or {})

    def _block_start(self, index: int, block: dict[str, Any]) -> Iterator[Chunk]:
        if block.get("type") == "tool_use":
            position = self._tool_indexes[index] = len(self._tool_indexes)
            call = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            yield self._chunk({"tool_calls": [call]})
        elif block.get("type") == "text" and block.get("text"):
            yield self._chunk({"content": block["text"]})

    def _block_delta(self, index: int, delta: dict[str, Any]) -> Iterator[Chunk]:
        kind = delta.get("type")
        if kind == "text_delta":
            yield self._chunk({"content": delta.get("text", "")})
        elif kind == "input_json_delta":
            call = {
                "index": self._tool_indexes.get(index, 0),
                "function": {"arguments": delta.get("partial_json", "")},
            }
            yield self._chunk({"tool_calls": [call]})
        elif kind == "thinking_delta":
            yield self._chunk({"reasoning_content": delta.get("thinking", "")})

    def _note_usage(self, usage: object) -> None:
        # message_start carries the input side, message_delta the running output count
        # (and, in newer API versions, the final input side again); the latest value wins.
        if isinstance(usage, dict):
            self._usage.update((k, v) for k, v in usage.items() if v is not None)

    def _usage_so_far(self) -> Usage | None:
        return read_usage(usage_from_anthropic, self._usage)

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> Chunk:
        return wire.delta_chunk(self._envelope, delta, finish_reason)


def parse_event(provider: str, payload: bytes | str) -> dict[str, Any]:
    return json_object(provider, payload, "a stream event")


def _stream_error(provider: str, error: dict[str, Any]) -> UpstreamError:
    return ERROR_TABLE.error(provider, None, {"type": "error", "error": error})
