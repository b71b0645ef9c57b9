"""OpenAI's chat-completions wire shape, the gateway's canonical one: readers of requests, and
builders and readers of answers (`chat.completion`, `chat.completion.chunk`).

Adapters translate their vendor's request from the reader side and build the answer with
the builders, which also fill in the vendor-neutral facts `Chunk` and `Completion` report to
the domain (delivered characters, finish reasons, response id and model); the OpenAI adapter,
which forwards the provider's own objects, gets those facts from `read_chunk` and
`read_completion`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.usage import Usage
from calcifer.errors import InvalidRequest

__all__ = [
    "CONTENT_FILTER",
    "LENGTH",
    "STOP",
    "SYSTEM_ROLES",
    "TOOL_CALLS",
    "ImageSource",
    "arguments_text",
    "assistant_message",
    "chunk_envelope",
    "completion",
    "delta_characters",
    "delta_chunk",
    "first_choice",
    "image_source",
    "parse_arguments",
    "read_chunk",
    "read_completion",
    "stop_sequences",
    "text_parts",
    "tool_definitions",
    "usage_body",
    "usage_chunk",
    "usage_totals",
    "with_usage_cost",
    "without_usage",
]

JsonObject = dict[str, Any]

# Finish reasons, as every client SDK knows them.
STOP: Final = "stop"
LENGTH: Final = "length"
TOOL_CALLS: Final = "tool_calls"
CONTENT_FILTER: Final = "content_filter"

SYSTEM_ROLES = frozenset({"system", "developer"})
_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.+)$", re.DOTALL)


# --- requests: messages, parts, tools ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageSource:
    """An image part: inline base64 data with its media type, or a URL."""

    url: str | None = None
    media_type: str | None = None
    data: str | None = None


def image_source(part: JsonObject) -> ImageSource:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("An image_url part needs a url", param="messages")
    match = _DATA_URL.match(url)
    if match:
        return ImageSource(media_type=match["media"], data=match["data"])
    if url.startswith(("http://", "https://")):
        return ImageSource(url=url)
    raise InvalidRequest("An image url must be http(s) or a base64 data: URL", param="messages")


def text_parts(content: object) -> Iterator[JsonObject]:
    """The parts of a message's content, a plain string being one text part."""
    if isinstance(content, str):
        yield {"type": "text", "text": content}
    elif isinstance(content, list):
        yield from (part for part in content if isinstance(part, dict))


def parse_arguments(arguments: object) -> JsonObject:
    """A tool call's `arguments` JSON text as an object (vendors other than OpenAI want objects)."""
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        value = orjson.loads(str(arguments))
    except orjson.JSONDecodeError:
        raise InvalidRequest("A tool call's arguments are not valid JSON", param="messages") from None
    if not isinstance(value, dict):
        raise InvalidRequest("A tool call's arguments must be a JSON object", param="messages")
    return value


def tool_definitions(body: JsonObject) -> list[JsonObject]:
    """The function tools of a request as `{name, description, parameters}`."""
    tools = []
    for tool in body.get("tools") or ():
        if tool.get("type", "function") != "function" or not isinstance(tool.get("function"), dict):
            raise InvalidRequest("Only function tools are supported", param="tools")
        function = tool["function"]
        if not isinstance(function.get("name"), str):
            raise InvalidRequest("Each tool needs a function name", param="tools")
        tools.append(function)
    return tools


def stop_sequences(body: JsonObject) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


# --- answers: usage ----------------------------------------------------------------------


def usage_totals(usage: Usage) -> JsonObject:
    """The three totals every usage object has."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def usage_body(usage: Usage) -> JsonObject:
    """Usage in OpenAI's convention: cached tokens inside prompt_tokens, reasoning inside
    completion_tokens, each also shown in its details object."""
    body = usage_totals(usage)
    body["prompt_tokens_details"] = {"cached_tokens": usage.cache_read_tokens}
    body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.cache_write_tokens:
        body["prompt_tokens_details"]["cache_write_tokens"] = usage.cache_write_tokens
    return body


def with_usage_cost(
    answer: Mapping[str, Any], cost: object, priced: Usage | None = None
) -> JsonObject | None:
    """A copy of a completion or chunk whose `usage` object also says what it cost (USD, as
    OpenRouter does) and, when `priced` (the usage it was priced on) is an estimate or was
    clamped, `cost_details` saying so; None when it has no usage object. The original is
    left as it was."""
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return None
    return {**answer, "usage": {**usage, **cost_fields(cost, priced)}}


def cost_fields(cost: object, usage: Usage | None) -> JsonObject:
    """`cost`, and `cost_details` with `estimated: true` (the gateway counted the tokens: the
    provider reported none, or the stream was cut before its report) and/or `clamped: true`
    (the provider's report was impossible and was cut down), when either is so."""
    fields: JsonObject = {"cost": cost}
    if usage is not None and (usage.estimated or usage.clamped):
        details = {"estimated": True} if usage.estimated else {}
        fields["cost_details"] = details | ({"clamped": True} if usage.clamped else {})
    return fields


def without_usage(answer: Mapping[str, Any]) -> JsonObject:
    """A copy of a chunk without its `usage` (for a client that did not ask for it)."""
    return {key: value for key, value in answer.items() if key != "usage"}


# --- answers: streams --------------------------------------------------------------------


def chunk_envelope(response_id: str, model: str, created: int | None = None) -> JsonObject:
    """The fields every `chat.completion.chunk` of one response repeats."""
    return {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created if created is not None else int(time.time()),
        "model": model,
    }


def delta_chunk(
    envelope: Mapping[str, Any],
    delta: JsonObject,
    finish_reason: str | None = None,
    *,
    usage_so_far: Usage | None = None,
) -> Chunk:
    """A chunk of one choice's delta (content, reasoning, tool calls) and/or why it stopped."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return Chunk(
        {**envelope, "choices": [choice]},
        None,  # raw: encoded when sent
        None,  # usage
        False,  # more
        usage_so_far,
        delta_characters(delta),
        (finish_reason,) if finish_reason else (),
        _str_or_none(envelope.get("id")),
        _str_or_none(envelope.get("model")),
    )


def usage_chunk(envelope: Mapping[str, Any], usage: Usage, body: JsonObject | None = None) -> Chunk:
    """The last chunk: no choices, the final usage (`body`, or `usage_body(usage)`)."""
    return Chunk(
        {**envelope, "choices": [], "usage": usage_body(usage) if body is None else body},
        usage=usage,
        response_id=_str_or_none(envelope.get("id")),
        response_model=_str_or_none(envelope.get("model")),
    )


def read_chunk(data: JsonObject, raw: bytes | None = None, usage: Usage | None = None) -> Chunk:
    """A `chat.completion.chunk` a provider sent, with the facts the domain needs read out of it.

    This runs for every chunk of every OpenAI-compatible stream, so it is one plain pass,
    `delta_characters` inlined, and `Chunk` built from positional arguments (keywords cost
    twice as much)."""
    characters = 0
    reasons: tuple[str, ...] = ()
    choices = data.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                characters += len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
                if calls := delta.get("tool_calls"):
                    characters += _arguments_characters(calls)
            if reason := choice.get("finish_reason"):
                reasons += (str(reason),)
    response_id, model = data.get("id"), data.get("model")
    return Chunk(
        data,
        raw,
        usage,
        False,  # more
        None,  # usage_so_far
        characters,
        reasons,
        response_id if response_id is None or response_id.__class__ is str else str(response_id),
        model if model is None or model.__class__ is str else str(model),
    )


def delta_characters(delta: Mapping[str, Any]) -> int:
    """Characters of generated text in a delta: content, reasoning and tool-call arguments."""
    total = len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
    if calls := delta.get("tool_calls"):
        total += _arguments_characters(calls)
    return total


def _arguments_characters(tool_calls: list[JsonObject]) -> int:
    return sum(len((call.get("function") or {}).get("arguments") or "") for call in tool_calls)


# --- answers: whole completions ----------------------------------------------------------


def assistant_message(text: list[str], tool_calls: list[JsonObject], reasoning: list[str]) -> JsonObject:
    """The answer's message from its pieces: content is null only for a pure tool call."""
    message: JsonObject = {
        "role": "assistant",
        "content": "".join(text) if text or not tool_calls else None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    return message


def arguments_text(arguments: object) -> str:
    """A tool call's arguments object as the JSON text OpenAI's shape carries."""
    return orjson.dumps(arguments or {}).decode()


def completion(
    response_id: object,
    model: object,
    message: JsonObject,
    finish_reason: str,
    usage: Usage,
    *,
    usage_fields: JsonObject | None = None,
    created: int | None = None,
) -> Completion:
    """A one-choice `chat.completion` (usage as `usage_fields`, or `usage_body(usage)`), and
    the facts the domain reads from it."""
    body = {
        "id": response_id,
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage_body(usage) if usage_fields is None else usage_fields,
    }
    return read_completion(body, usage)


def read_completion(body: JsonObject, usage: Usage) -> Completion:
    """A `chat.completion` with the facts the domain needs read out of it."""
    reasons: list[str] = []
    for choice in body.get("choices") or ():
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        if reason:
            reasons.append(str(reason))
    return Completion(
        body,
        usage,
        response_id=_str_or_none(body.get("id")),
        response_model=_str_or_none(body.get("model")),
        finish_reasons=tuple(reasons),
    )


def first_choice(body: Mapping[str, Any]) -> tuple[str, str | None]:
    """The first choice's text and finish reason (for dialects that carry one answer)."""
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    return message.get("content") or "", choice.get("finish_reason")


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
