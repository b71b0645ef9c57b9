"""The `anthropic` provider: Claude through the official `anthropic` SDK (Messages API).

The SDK client supplies the base URL, authentication and the `anthropic-version` and
standard headers; the gateway translates JSON to and from the chat schema itself and sends
the bytes through the shared forwarding path. The SDK's own OpenTelemetry spans and trace
propagation are switched off: the gateway's CLIENT span is the one span of the call, and
its `traceparent` is the one sent.

Translation, chat schema → Messages API: system and developer messages → `system`
(blocks when any carries `cache_control`); consecutive same-role turns merged; tool
results → `tool_result` blocks in a user turn; images → `image` blocks (base64 or URL);
tools (and legacy functions) → `input_schema` tools; tool_choice auto/none/required/named →
auto/none/any/tool; `stop` → `stop_sequences`; `max_tokens` defaults to the model's catalog
maximum; `reasoning_effort` → extended thinking with a budget per level; `response_format`
json_schema → `output_config.format`; `safety_identifier` / `user` → `metadata.user_id`.
Every OpenAI parameter's fate is in `PARAMETERS`; of the fields OpenAI does not have, only
the Messages API's own listed in `NATIVE_FIELDS` pass through (`thinking`, `output_config`...).

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

import re
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import aclosing
from typing import Any

import anthropic
import orjson

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.provider import (
    OtherFields,
    ParameterPolicy,
    UpstreamCall,
    refused,
    translated,
)
from calcifer.domain.usage import Usage
from calcifer.errors import (
    ContextWindowExceeded,
    InvalidRequest,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
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
from calcifer.providers.parameters import (
    content_parts,
    function_calls,
    function_tools,
    inert,
    only,
    response_format_types,
    tool_choices,
    tools_view,
)
from calcifer.providers.upstream_errors import ErrorRow, ErrorTable, VendorError, json_object, unreadable
from calcifer.transport.registry import Transports

__all__ = [
    "ERROR_TABLE",
    "NATIVE_FIELDS",
    "PARAMETERS",
    "THINKING_BUDGETS",
    "AnthropicProvider",
    "StreamTranslator",
    "parse_event",
    "usage_from_anthropic",
]

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
# Extended-thinking budget per OpenAI reasoning effort (Anthropic's minimum is 1,024).
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576, "max": 32768}
_MIN_THINKING_BUDGET = 1024
# Messages API parameters OpenAI has no name for, passed through as the client sent them
# (each is checked against the installed SDK's MessageCreateParams by the tests).
NATIVE_FIELDS = frozenset(
    {
        "thinking",
        "output_config",
        "cache_control",
        "inference_geo",
        "speed",
        "user_profile_id",
        "workspace_id",
    }
)


class AnthropicProvider:
    def __init__(self, config: ProviderConfig, transports: Transports) -> None:
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
        self._forwarder = Forwarder(config, transports.for_provider(config), status_error=ERROR_TABLE)

    @property
    def id(self) -> str:
        return self._id

    @property
    def parameters(self) -> ParameterPolicy:
        return PARAMETERS

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

# The API version the SDK sends (2026-10-21) refuses them even at their default values.
_NO_SAMPLING = "the Messages API accepts no sampling parameters (temperature, top_p, top_k)"
_SERVICE_TIERS = {"auto": "auto", "default": "standard_only"}

PARAMETERS = ParameterPolicy(
    {
        "messages": translated(
            "system/developer → `system`; turns merged to alternate; tool results → `tool_result` "
            "blocks; images → `image` blocks",
            content_parts("image_url"),
            "text and image_url parts",
        ),
        "model": translated("the catalog's `upstream_model`"),
        "audio": refused("Claude does not generate audio"),
        "frequency_penalty": inert("frequency_penalty", "the Messages API has no penalties"),
        "presence_penalty": inert("presence_penalty", "the Messages API has no penalties"),
        "function_call": translated("`tool_choice`, as tool_choice", function_calls, "auto, none, a name"),
        "functions": translated("`tools` with `input_schema`"),
        "logit_bias": inert("logit_bias", "the Messages API has no logit bias"),
        "logprobs": inert("logprobs", "the Messages API returns no log probabilities"),
        "top_logprobs": inert("top_logprobs", "the Messages API returns no log probabilities"),
        "max_completion_tokens": translated("`max_tokens` (thinking included, as in OpenAI)"),
        "max_tokens": translated("`max_tokens`; the catalog's `max_output_tokens` when absent"),
        "metadata": translated("kept by the gateway (recorded with the request), not sent"),
        "modalities": inert("modalities", "Claude answers in text only"),
        "moderation": refused("the Messages API has no moderation settings"),
        "n": inert("n", "the Messages API returns one choice"),
        "parallel_tool_calls": translated("`tool_choice.disable_parallel_tool_use` when false"),
        "prediction": refused("the Messages API has no predicted outputs"),
        "prompt_cache_key": refused("Anthropic caches by `cache_control` markers, not by key"),
        "prompt_cache_options": refused("Anthropic caches by `cache_control` markers"),
        "prompt_cache_retention": refused("Anthropic sets cache lifetimes on `cache_control` markers"),
        "reasoning_effort": translated(
            "`thinking: {type: enabled, budget_tokens}` (minimal 1024, low 2048, medium 8192, "
            "high 16384, xhigh 24576, max 32768, at most half of `max_tokens`); none → disabled",
            only("none", "minimal", "low", "medium", "high", "xhigh", "max"),
            "none, minimal, low, medium, high, xhigh, max",
        ),
        "response_format": translated(
            "json_schema → `output_config.format` (structured outputs); text → nothing to do",
            response_format_types("text", "json_schema"),
            "text, json_schema (Claude has no schema-less JSON mode)",
        ),
        "safety_identifier": translated("`metadata.user_id`"),
        "user": translated("`metadata.user_id` (when no `safety_identifier`)"),
        "seed": refused("the Messages API has no seed"),
        "service_tier": translated(
            "`service_tier`: auto → auto, default → standard_only", only("auto", "default"), "auto, default"
        ),
        "stop": translated("`stop_sequences`"),
        "store": inert("store", "Anthropic keeps no completions for distillation or evals"),
        "stream": translated("`stream`; events read into chat chunks"),
        "stream_options": translated("honoured by the gateway (usage is always reported)"),
        "temperature": refused(_NO_SAMPLING),
        "top_p": refused(_NO_SAMPLING),
        "tool_choice": translated(
            "auto/none/required/named → auto/none/any/tool", tool_choices, "auto, none, required, a function"
        ),
        "tools": translated("`tools` with `input_schema`", function_tools, "function tools"),
        "verbosity": refused("the Messages API has no verbosity setting"),
        "web_search_options": refused("web search is a server tool on Anthropic, not translated"),
    },
    OtherFields(NATIVE_FIELDS, "the Messages API's own fields in NATIVE_FIELDS pass through; others refused"),
)


def messages_request(call: UpstreamCall, *, stream: bool) -> dict[str, Any]:
    source = tools_view(call.request.body)
    system, turns = _turns(source["messages"])
    max_tokens, thinking = _thinking(source, call.model.max_output_tokens)
    body: dict[str, Any] = {"model": call.model.upstream_model, "messages": turns, "max_tokens": max_tokens}
    if system:
        body["system"] = system
    if thinking is not None:
        body["thinking"] = thinking
    if stops := stop_sequences(source):
        body["stop_sequences"] = stops
    if tools := tool_definitions(source):
        body["tools"] = [_tool(tool) for tool in tools]
    if (choice := _tool_choice(source)) is not None:
        body["tool_choice"] = choice
    forced = choice is not None and choice["type"] in ("any", "tool")
    if forced and thinking is not None and thinking["type"] == "enabled":
        raise InvalidRequest(
            "Claude cannot think (reasoning_effort) while a tool call is forced (tool_choice)",
            param="reasoning_effort",
        )
    if (user := source.get("safety_identifier") or source.get("user")) is not None:
        body["metadata"] = {"user_id": user}
    if (schema := _output_format(source.get("response_format"))) is not None:
        body["output_config"] = {"format": schema}
    if (tier := source.get("service_tier")) is not None:
        body["service_tier"] = _SERVICE_TIERS[tier]
    _add_native_fields(body, source)
    if stream:
        body["stream"] = True
    return body


def _thinking(source: dict[str, Any], model_max: int | None) -> tuple[int, dict[str, Any] | None]:
    """`max_tokens` and the `thinking` block for the request's `reasoning_effort`.

    Anthropic wants 1,024 ≤ budget < max_tokens, thinking counted inside max_tokens; the
    budget keeps at most half of max_tokens so that the answer has room too."""
    limit = source.get("max_completion_tokens") or source.get("max_tokens")
    effort = source.get("reasoning_effort")
    if effort is None:
        return limit or model_max or DEFAULT_MAX_TOKENS, None
    if effort == "none":
        return limit or model_max or DEFAULT_MAX_TOKENS, {"type": "disabled"}
    budget = THINKING_BUDGETS[effort]
    ceiling = limit or model_max
    if ceiling is None:
        return budget + DEFAULT_MAX_TOKENS, {"type": "enabled", "budget_tokens": budget}
    budget = min(budget, ceiling // 2)
    if budget < _MIN_THINKING_BUDGET:
        raise InvalidRequest(
            f"reasoning_effort needs max_completion_tokens of at least {2 * _MIN_THINKING_BUDGET} on Claude "
            f"(thinking takes 1,024 tokens at least, within max_tokens); this request allows {ceiling}",
            param="reasoning_effort",
        )
    return ceiling, {"type": "enabled", "budget_tokens": budget}


def _output_format(response_format: object) -> dict[str, Any] | None:
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
    return {"type": "json_schema", "schema": schema}


def _add_native_fields(body: dict[str, Any], source: dict[str, Any]) -> None:
    for name in NATIVE_FIELDS & source.keys():
        if source[name] is None:
            continue
        if name in body:
            raise InvalidRequest(
                f"'{name}' was sent both as is and as the translation of an OpenAI parameter; send one",
                param=name,
            )
        body[name] = source[name]


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
    return ERROR_TABLE.error(provider, None, {"type": "error", "error": error})


# --- error table ----------------------------------------------------------------------


def _vendor_error(body: object) -> VendorError:
    """Anthropic's error body: `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return VendorError(None, "")
    kind = error.get("type")
    return VendorError(kind if isinstance(kind, str) else None, str(error.get("message") or kind or ""))


# Anthropic sends no code for a prompt over the context window: a plain invalid_request_error
# whose message reads "prompt is too long: N tokens > M maximum". Its docs warn that wording
# may change; the message is all there is, so this one row reads it.
_PROMPT_TOO_LONG = re.compile(r"prompt is too long", re.IGNORECASE)

ERROR_TABLE = ErrorTable(
    [
        ErrorRow(400, "invalid_request_error", ContextWindowExceeded, _PROMPT_TOO_LONG),
        ErrorRow(None, "invalid_request_error", UpstreamRejected),
        ErrorRow(None, "request_too_large", UpstreamRejected),
        ErrorRow(None, "not_found_error", UpstreamRejected),
        ErrorRow(None, "authentication_error", UpstreamAuthFailed),
        ErrorRow(None, "permission_error", UpstreamAuthFailed),
        # The gateway's account is out of credit: not the client's fault; another deployment may serve.
        ErrorRow(None, "billing_error", UpstreamUnavailable),
        ErrorRow(None, "rate_limit_error", UpstreamRateLimited),
        ErrorRow(None, "timeout_error", UpstreamTimeout),
        ErrorRow(None, "api_error", UpstreamUnavailable),
        ErrorRow(None, "overloaded_error", UpstreamUnavailable),
    ],
    _vendor_error,
)
