"""Pass-through of a Messages request from a client that speaks it: the client's body and
headers upstream (only the model mapped), the provider's answer back untouched, with usage,
delivered text and stop reasons read on the way for pricing and the ledger."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.dialect import NativeRequest
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import UpstreamError
from calcifer.providers.anthropic.errors import ERROR_TABLE
from calcifer.providers.anthropic.response import FINISH_REASONS, usage_from_anthropic
from calcifer.providers.upstream_errors import json_object
from calcifer.providers.usage_reading import estimated_usage, read_usage
from calcifer.transport.sse import data_of

__all__ = ["FrameReader", "native_body", "native_completion", "native_headers", "native_url"]

_VERSION = "anthropic-version"


def native_body(call: UpstreamCall, native: NativeRequest) -> bytes:
    """The client's body with the deployment's model name (a copy: the client's stays as sent)."""
    return orjson.dumps({**native.body, "model": call.model.upstream_model})


def native_url(url: str, native: NativeRequest) -> str:
    return f"{url}?{native.query}" if native.query else url


def native_headers(base: Mapping[str, str], call: UpstreamCall, native: NativeRequest) -> dict[str, str]:
    """The adapter's headers with this request's own `anthropic-version` and `anthropic-beta`
    in place of the SDK's (names compared without case: the SDK writes them its own way)."""
    mine = {name.lower() for name in native.headers}
    headers = {name: value for name, value in base.items() if name.lower() not in mine}
    return {**headers, **call.headers, **native.headers}


def native_completion(provider: str, call: UpstreamCall, payload: bytes) -> Completion:
    """A `message` body as the client will get it, with what the gateway needs read from it."""
    data = json_object(provider, payload, "a body")
    content = data.get("content")
    characters = (
        sum(len(str(b.get("text", ""))) for b in content if isinstance(b, dict))
        if isinstance(content, list)
        else 0
    )
    usage = read_usage(usage_from_anthropic, data.get("usage")) or estimated_usage(call, characters)
    reason = data.get("stop_reason")
    return Completion(
        data,
        usage,
        response_id=_str_or_none(data.get("id")),
        response_model=_str_or_none(data.get("model")),
        finish_reasons=(FINISH_REASONS.get(str(reason), "stop"),) if reason else (),
        native=True,
    )


class FrameReader:
    """The provider's events, each as a native chunk carrying its frame's bytes unchanged.

    Usage: `message_start` gives the input side, each `message_delta` the cumulative counts
    (which replace earlier ones); the chunk of `message_stop` carries the final usage."""

    __slots__ = ("_provider", "_usage")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._usage: dict[str, Any] = {}

    def chunks(self, frames: list[bytes]) -> Iterator[Chunk]:
        last = len(frames) - 1
        for index, raw in enumerate(frames):
            chunk = self._read(raw)
            chunk.more = index < last
            yield chunk

    def _read(self, raw: bytes) -> Chunk:
        payload = data_of(raw)
        if payload is None:  # a comment, a keep-alive, a stray blank line: relayed all the same
            return Chunk({}, raw, native=True)
        event = json_object(self._provider, payload, "a stream event")
        chunk = Chunk(event, raw, native=True)
        kind = event.get("type")
        if kind == "content_block_delta":
            chunk.text_chars = _delta_characters(event.get("delta"))
        elif kind == "message_start":
            message = event.get("message")
            message = message if isinstance(message, dict) else {}
            self._note(message.get("usage"))
            chunk.response_id, chunk.response_model = (
                _str_or_none(message.get("id")),
                _str_or_none(message.get("model")),
            )
            chunk.usage_so_far = self._so_far()
        elif kind == "message_delta":
            self._note(event.get("usage"))
            chunk.usage_so_far = self._so_far()
            reason = (event.get("delta") or {}).get("stop_reason")
            if reason:
                chunk.finish_reasons = (FINISH_REASONS.get(str(reason), "stop"),)
        elif kind == "message_stop":
            chunk.usage = self._so_far()
        elif kind == "error":
            raise _stream_error(self._provider, event.get("error"))
        return chunk

    def _note(self, usage: object) -> None:
        if isinstance(usage, dict):
            self._usage.update((k, v) for k, v in usage.items() if v is not None)

    def _so_far(self) -> Usage | None:
        return read_usage(usage_from_anthropic, self._usage)


def _delta_characters(delta: object) -> int:
    if not isinstance(delta, dict):
        return 0
    text = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
    return len(text) if isinstance(text, str) else 0


def _stream_error(provider: str, error: object) -> UpstreamError:
    return ERROR_TABLE.error(
        provider, None, {"type": "error", "error": error if isinstance(error, dict) else {}}
    )


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
