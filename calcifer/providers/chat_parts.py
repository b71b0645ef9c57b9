"""Reading the canonical chat schema: helpers the non-OpenAI adapters share when they
translate messages, tools and images into their vendor's shapes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from calcifer.domain.usage import Usage
from calcifer.errors import InvalidRequest

__all__ = [
    "SYSTEM_ROLES",
    "ImageSource",
    "chunk_envelope",
    "image_source",
    "parse_arguments",
    "stop_sequences",
    "text_parts",
    "tool_definitions",
    "usage_body",
]

SYSTEM_ROLES = frozenset({"system", "developer"})
_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.+)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ImageSource:
    """An image part: inline base64 data with its media type, or a URL."""

    url: str | None = None
    media_type: str | None = None
    data: str | None = None


def image_source(part: dict[str, Any]) -> ImageSource:
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


def text_parts(content: object) -> Iterator[dict[str, Any]]:
    """The parts of a message's content, a plain string being one text part."""
    if isinstance(content, str):
        yield {"type": "text", "text": content}
    elif isinstance(content, list):
        yield from (part for part in content if isinstance(part, dict))


def parse_arguments(arguments: object) -> dict[str, Any]:
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


def tool_definitions(body: dict[str, Any]) -> list[dict[str, Any]]:
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


def stop_sequences(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def chunk_envelope(response_id: str, model: str, created: int | None = None) -> dict[str, Any]:
    """The fields every `chat.completion.chunk` of one response repeats."""
    return {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created if created is not None else int(time.time()),
        "model": model,
    }


def usage_body(usage: Usage) -> dict[str, Any]:
    """Usage in OpenAI's convention: cached tokens inside prompt_tokens, reasoning inside
    completion_tokens, each also shown in its details object."""
    body: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.cache_write_tokens:
        body["prompt_tokens_details"]["cache_write_tokens"] = usage.cache_write_tokens
    return body
