"""Gemini responses (one answer, or each response of a stream) → the chat schema and our usage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from google.genai import types

from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import UpstreamProtocolError
from calcifer.formats import openai_chat as wire
from calcifer.providers.usage_reading import estimated_usage, read_usage, tokens

__all__ = ["ResponseReader", "usage_from_gemini"]

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}


def usage_from_gemini(usage: Mapping[str, Any]) -> Usage:
    """Gemini's usage in our buckets; `UnreadableUsage` when a count is not a count."""
    prompt = tokens(usage, "prompt_token_count")
    cached = tokens(usage, "cached_content_token_count")
    return Usage(
        input_tokens=prompt - cached,
        cache_read_tokens=cached,
        output_tokens=tokens(usage, "candidates_token_count"),
        reasoning_tokens=tokens(usage, "thoughts_token_count"),
    )


class ResponseReader:
    """Reads Gemini responses (one, or each of a stream) into the chat schema."""

    def __init__(self, model: str) -> None:
        self.envelope = wire.chunk_envelope(f"chatcmpl-{uuid.uuid4().hex}", model)
        self._text: list[str] = []
        self._thoughts: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._finish: str | None = None
        self._usage: dict[str, Any] = {}

    def read(self, response: types.GenerateContentResponse) -> list[tuple[dict[str, Any], str | None]]:
        """Note one response; returns the deltas it adds (streams send them on)."""
        return list(self._deltas(response))

    def _deltas(self, response: types.GenerateContentResponse) -> Iterator[tuple[dict[str, Any], str | None]]:
        if response.response_id:
            self.envelope["id"] = response.response_id
        if response.model_version:
            self.envelope["model"] = response.model_version
        if response.usage_metadata is not None:
            self._usage = response.usage_metadata.model_dump(exclude_none=True)
        blocked = response.prompt_feedback is not None and response.prompt_feedback.block_reason is not None
        candidate = response.candidates[0] if response.candidates else None
        if candidate is None:
            if blocked:
                self._finish = wire.CONTENT_FILTER
                yield {}, self._finish
            return
        yield from self._read_parts(candidate.content.parts if candidate.content else None)
        if candidate.finish_reason is not None:
            self._finish = self._finish_reason(str(candidate.finish_reason.value))
            yield {}, self._finish

    def _read_parts(self, parts: list[types.Part] | None) -> Iterator[tuple[dict[str, Any], str | None]]:
        for part in parts or ():
            if part.function_call is not None:
                call = {
                    "index": len(self._calls),
                    "id": part.function_call.id or f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {
                        "name": part.function_call.name,
                        "arguments": wire.arguments_text(part.function_call.args),
                    },
                }
                self._calls.append(call)
                yield {"tool_calls": [call]}, None
            elif part.text and part.thought:
                self._thoughts.append(part.text)
                yield {"reasoning_content": part.text}, None
            elif part.text:
                self._text.append(part.text)
                yield {"content": part.text}, None

    def _finish_reason(self, reason: str) -> str:
        if reason in _FILTERED:
            return wire.CONTENT_FILTER
        if reason == "MAX_TOKENS":
            return wire.LENGTH
        return wire.TOOL_CALLS if self._calls else wire.STOP

    def usage(self) -> Usage | None:
        """The usage reported so far; None when none was, or it was unreadable."""
        return read_usage(usage_from_gemini, self._usage) if self._usage else None

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> Chunk:
        usage_so_far = self.usage()
        return wire.delta_chunk(self.envelope, delta, finish, usage_so_far=usage_so_far)

    def completion(self, call: UpstreamCall) -> Completion:
        if self._finish is None and not self._text and not self._calls:
            raise UpstreamProtocolError(
                "Provider answered with neither a candidate nor a block reason", provider="google"
            )
        calls = [{k: v for k, v in call.items() if k != "index"} for call in self._calls]
        message = wire.assistant_message(self._text, calls, self._thoughts)
        finish = self._finish or wire.STOP
        usage = self.usage() or estimated_usage(call, sum(map(len, self._text)))
        return wire.completion(self.envelope["id"], self.envelope["model"], message, finish, usage)
