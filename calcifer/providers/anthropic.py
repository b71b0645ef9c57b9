"""The `anthropic` provider: Claude through the official `anthropic` SDK (Messages API).

The SDK client supplies the base URL, authentication and the `anthropic-version` and
standard headers; the gateway translates JSON to and from the chat schema itself and sends
the bytes through the shared forwarding path. The SDK's own OpenTelemetry spans and trace
propagation are switched off: the gateway's CLIENT span is the one span of the call, and
its `traceparent` is the one sent.

Translation, chat schema → Messages API: system and developer messages → `system`
(blocks when any carries `cache_control`); consecutive same-role turns merged; tool
results → `tool_result` blocks in a user turn; images → `image` blocks (base64 or URL);
tools → `input_schema` tools; tool_choice auto/none/required/named → auto/none/any/tool;
`stop` → `stop_sequences`; `max_tokens` defaults to the model's catalog maximum;
`user` → `metadata.user_id`; `thinking` and `top_k` pass through.

Back: text blocks → `content`; `tool_use` → `tool_calls`; extended thinking →
`message.reasoning_content` (`delta.reasoning_content` when streaming), never dropped;
stop_reason end_turn/stop_sequence → stop, max_tokens → length, tool_use → tool_calls,
refusal → content_filter.

Usage mapping (Anthropic reports cache traffic beside `input_tokens`, and counts
thinking inside `output_tokens`):
    input_tokens                 → input_tokens
    cache_read_input_tokens      → cache_read_tokens
    cache_creation_input_tokens  → cache_write_tokens
    output_tokens                → output_tokens
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import aclosing
from typing import Any

import anthropic
import orjson

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.provider import Capability, UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import (
    InvalidRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from calcifer.formats import openai_chat as wire
from calcifer.formats.openai_chat import (
    SYSTEM_ROLES,
    image_source,
    parse_arguments,
    stop_sequences,
    text_parts,
    tool_definitions,
)
from calcifer.providers.forwarding import Forwarder, sdk_headers
from calcifer.providers.upstream_errors import json_object, unreadable

__all__ = ["AnthropicProvider", "StreamTranslator", "parse_event", "usage_from_anthropic"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS = {
    "end_turn": wire.STOP,
    "stop_sequence": wire.STOP,
    "pause_turn": wire.STOP,
    "max_tokens": wire.LENGTH,
    "model_context_window_exceeded": wire.LENGTH,
    "tool_use": wire.TOOL_CALLS,
    "refusal": wire.CONTENT_FILTER,
}
_PASS_THROUGH = ("temperature", "top_p", "top_k", "thinking")


class AnthropicProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self._id = config.id
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key.reveal() if config.api_key else "no-key",
            base_url=config.base_url or DEFAULT_BASE_URL,
            timeout=config.timeout,
            max_retries=0,  # the gateway retries; two layers would multiply attempts
            default_headers=dict(config.headers),
            open_telemetry={"traces": False, "propagation": False},
        )
        # The SDK client gives the endpoint, authentication and `anthropic-version`;
        # the bytes go through the shared forwarding path (see calcifer.providers.forwarding).
        self._url = str(self._client.base_url).rstrip("/") + "/v1/messages"
        headers = {**sdk_headers(self._client), "Content-Type": "application/json"}
        self._headers = {**headers, "Accept": "application/json"}
        self._stream_headers = {**headers, "Accept": "text/event-stream"}
        self._forwarder = Forwarder(config)

    @property
    def id(self) -> str:
        return self._id

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.TOOLS, Capability.VISION})

    async def complete(self, call: UpstreamCall) -> Completion:
        body = messages_request(call, stream=False)
        headers = {**self._headers, **call.headers}
        payload = await self._forwarder.post(self._url, orjson.dumps(body), headers)
        data = json_object(self._id, payload, "a body")
        if not isinstance(data.get("content"), list):
            raise unreadable(self._id, "a message without content")
        return chat_completion(data, usage_from_anthropic(data.get("usage") or {}))

    async def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]:
        body = messages_request(call, stream=True)
        headers = {**self._stream_headers, **call.headers}
        translator = StreamTranslator(self._id, call.model.upstream_model)
        async with aclosing(self._forwarder.stream(self._url, orjson.dumps(body), headers)) as batches:
            async for batch in batches:
                chunks = [
                    chunk for payload in batch for chunk in translator.feed(parse_event(self._id, payload))
                ]
                for index, chunk in enumerate(chunks):
                    chunk.more = index < len(chunks) - 1
                    yield chunk

    async def aclose(self) -> None:
        await self._forwarder.aclose()
        await self._client.close()


# --- request conversion -------------------------------------------------------------


def messages_request(call: UpstreamCall, *, stream: bool) -> dict[str, Any]:
    source = call.request.body
    system, turns = _turns(source["messages"])
    limit = source.get("max_completion_tokens") or source.get("max_tokens")
    body: dict[str, Any] = {
        "model": call.model.upstream_model,
        "messages": turns,
        "max_tokens": limit or call.model.max_output_tokens or DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = system
    body.update((key, source[key]) for key in _PASS_THROUGH if source.get(key) is not None)
    if stops := stop_sequences(source):
        body["stop_sequences"] = stops
    if tools := tool_definitions(source):
        body["tools"] = [_tool(tool) for tool in tools]
    if (choice := _tool_choice(source)) is not None:
        body["tool_choice"] = choice
    if isinstance(source.get("user"), str):
        body["metadata"] = {"user_id": source["user"]}
    if stream:
        body["stream"] = True
    return body


def _turns(messages: list[dict[str, Any]]) -> tuple[str | list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role in SYSTEM_ROLES:
            system.extend(_blocks(message.get("content")))
            continue
        speaker = "assistant" if role == "assistant" else "user"
        blocks = _message_blocks(role, message)
        if turns and turns[-1]["role"] == speaker:
            turns[-1]["content"].extend(blocks)  # the API wants strictly alternating turns
        else:
            turns.append({"role": speaker, "content": blocks})
    if any("cache_control" in block for block in system):
        return system, turns
    return "\n\n".join(block["text"] for block in system), turns


def _message_blocks(role: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    if role in ("tool", "function"):
        text = "".join(p.get("text", "") for p in text_parts(message.get("content")))
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id") or message.get("name"),
                "content": text,
            }
        ]
    blocks = _blocks(message.get("content"))
    for tool_call in message.get("tool_calls") or ():
        function = tool_call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_call.get("id"),
                "name": function.get("name"),
                "input": parse_arguments(function.get("arguments")),
            }
        )
    return blocks


def _blocks(content: object) -> list[dict[str, Any]]:
    blocks = []
    for part in text_parts(content):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append(_with_cache_control({"type": "text", "text": part["text"]}, part))
        elif kind == "image_url":
            blocks.append(_with_cache_control(_image_block(part), part))
        else:
            raise InvalidRequest(
                f"Content parts of type '{kind}' are not supported by Anthropic models", param="messages"
            )
    return blocks


def _image_block(part: dict[str, Any]) -> dict[str, Any]:
    source = image_source(part)
    if source.url:
        return {"type": "image", "source": {"type": "url", "url": source.url}}
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": source.media_type, "data": source.data},
    }


def _with_cache_control(block: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _tool(function: dict[str, Any]) -> dict[str, Any]:
    tool = {"name": function["name"], "input_schema": function.get("parameters") or {"type": "object"}}
    if function.get("description"):
        tool["description"] = function["description"]
    return _with_cache_control(tool, function)


def _tool_choice(source: dict[str, Any]) -> dict[str, Any] | None:
    choice = source.get("tool_choice")
    result: dict[str, Any] | None
    if choice is None:
        result = (
            {"type": "auto"} if source.get("parallel_tool_calls") is False and source.get("tools") else None
        )
    elif choice in ("auto", "none"):
        result = {"type": choice}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        result = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise InvalidRequest(
            "tool_choice must be auto, none, required or a named function", param="tool_choice"
        )
    if result is not None and source.get("parallel_tool_calls") is False and result["type"] != "none":
        result["disable_parallel_tool_use"] = True
    return result


# --- response conversion ------------------------------------------------------------


def usage_from_anthropic(usage: Mapping[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(usage.get("input_tokens") or 0),
        cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
    )


def chat_completion(data: dict[str, Any], usage: Usage) -> Completion:
    text, thinking, tool_calls = [], [], []
    for block in data["content"]:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
        elif kind == "tool_use":
            arguments = wire.arguments_text(block.get("input"))
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
    message = wire.assistant_message(text, tool_calls, thinking)
    finish = FINISH_REASONS.get(str(data.get("stop_reason")), wire.STOP)
    return wire.completion(data.get("id"), data.get("model"), message, finish, usage)


class StreamTranslator:
    """Messages API stream events → chat.completion.chunk objects."""

    def __init__(self, provider: str, model: str) -> None:
        self._provider = provider
        self._envelope = wire.chunk_envelope("", model)
        self._tool_indexes: dict[int, int] = {}
        self._usage: dict[str, int] = {}

    def feed(self, event: dict[str, Any]) -> Iterator[Chunk]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self._envelope.update(id=message.get("id"), model=message.get("model") or self._envelope["model"])
            self._note_usage(message.get("usage"))
            opening = self._chunk({"role": "assistant", "content": ""})
            opening.usage_so_far = usage_from_anthropic(self._usage)
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
                finish.usage_so_far = usage_from_anthropic(self._usage)
                yield finish
        elif kind == "message_stop":
            yield wire.usage_chunk(self._envelope, usage_from_anthropic(self._usage))
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
            self._usage.update((k, v) for k, v in usage.items() if isinstance(v, int))

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> Chunk:
        return wire.delta_chunk(self._envelope, delta, finish_reason)


def parse_event(provider: str, payload: bytes | str) -> dict[str, Any]:
    return json_object(provider, payload, "a stream event")


def _stream_error(provider: str, error: dict[str, Any]) -> UpstreamError:
    message = f"Provider '{provider}' failed mid-stream: {error.get('message') or error.get('type')}"
    if error.get("type") == "rate_limit_error":
        return UpstreamRateLimited(message, provider=provider, retry_after=None)
    return UpstreamUnavailable(message, provider=provider)
