"""Gemini responses (one answer, or each response of a stream) → the chat schema and our usage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from google.genai import types

from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.provider import UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import UpstreamProtocolError
from calcifer.formats import openai_chat as wire
from calcifer.providers.usage_reading import UnreadableUsage, estimated_usage, read_usage, tokens, tool_calls

__all__ = ["ResponseReader", "usage_from_gemini"]

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}


def usage_from_gemini(usage: Mapping[str, Any]) -> Usage:
    """Gemini's usage in our buckets; `UnreadableUsage` when a count is not a count.

    `prompt_token_count` includes the cached tokens; `tool_use_prompt_token_count` (what a
    tool such as Google Search fed the model) is counted beside it and billed as input;
    `thoughts_token_count` is beside `candidates_token_count`. Audio and image tokens are
    read from the per-modality details."""
    cached = tokens(usage, "cached_content_token_count")
    audio_in = _modality(usage, "prompt_tokens_details", "AUDIO") - _modality(
        usage, "cache_tokens_details", "AUDIO"
    )
    audio_out = _modality(usage, "candidates_tokens_details", "AUDIO")
    image_out = _modality(usage, "candidates_tokens_details", "IMAGE")
    prompt = tokens(usage, "prompt_token_count") + tokens(usage, "tool_use_prompt_token_count")
    return Usage(
        input_tokens=prompt - cached - audio_in,
        cache_read_tokens=cached,
        input_audio_tokens=audio_in,
        output_tokens=tokens(usage, "candidates_token_count") - audio_out - image_out,
        output_audio_tokens=audio_out,
        output_image_tokens=image_out,
        reasoning_tokens=tokens(usage, "thoughts_token_count"),
    )


def _modality(usage: Mapping[str, Any], details: str, modality: str) -> int:
    """The tokens of one modality in a list of `{modality, token_count}` details."""
    entries = usage.get(details) or []
    if not isinstance(entries, list):
        raise UnreadableUsage(f"{details!r} is not a list")
    total = 0
    for entry in entries:
        kind = entry.get("modality") if isinstance(entry, Mapping) else None
        if str(getattr(kind, "value", kind)).upper() == modality:
            total += tokens(entry, "token_count")
    return total


class ResponseReader:
    """Reads Gemini responses (one, or each of a stream) into the chat schema."""

    def __init__(self, model: str) -> None:
        self.envelope = wire.chunk_envelope(f"chatcmpl-{uuid.uuid4().hex}", model)
        self._text: list[str] = []
        self._thoughts: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._finish: str | None = None
        self._usage: dict[str, Any] = {}
        self._searches = 0
        """Google Search queries the answer was grounded on (billed per query, or per grounded
        prompt on older models: both counts are reported, the catalog prices the one that applies)."""

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
        grounding = candidate.grounding_metadata
        if grounding is not None and grounding.web_search_queries:
            self._searches = max(self._searches, len(grounding.web_search_queries))
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
        usage = read_usage(usage_from_gemini, self._usage) if self._usage else None
        if usage is None or not self._searches:
            return usage
        searches = tool_calls(google_search=self._searches, google_search_prompt=1)
        return replace(usage, tool_calls=searches)

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
