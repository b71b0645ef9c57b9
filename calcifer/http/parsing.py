"""Turn request bodies into `ChatRequest`s, refusing wrong types with a 400 naming the field.

The OpenAI-compatible body is checked for the fields the gateway reads or that a
provider would reject confusingly late; every other field is forwarded untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from calcifer.domain.chat import ChatRequest
from calcifer.errors import InvalidRequest

__all__ = ["parse_chat_request", "parse_seed_request"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_SEED_FIELDS = ("model", "messages", "temperature", "max_tokens", "stream", "metadata")

Check = Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _between(low: float, high: float) -> Check:
    return lambda value: _is_number(value) and low <= value <= high


def _positive_int(value: Any) -> bool:
    return _is_int(value) and value >= 1


def _stop(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and len(value) <= 4 and all(isinstance(item, str) for item in value)
    )


# field → (check, what it must be). Absent or null fields are not checked.
_CHAT_FIELDS: dict[str, tuple[Check, str]] = {
    "stream": (lambda v: isinstance(v, bool), "a boolean"),
    "stream_options": (lambda v: isinstance(v, dict), "an object"),
    "temperature": (_between(0, 2), "a number between 0 and 2"),
    "top_p": (_between(0, 1), "a number between 0 and 1"),
    "max_tokens": (_positive_int, "a positive integer"),
    "max_completion_tokens": (_positive_int, "a positive integer"),
    "n": (lambda v: _is_int(v) and 1 <= v <= 128, "an integer between 1 and 128"),
    "stop": (_stop, "a string or a list of at most 4 strings"),
    "seed": (_is_int, "an integer"),
    "presence_penalty": (_between(-2, 2), "a number between -2 and 2"),
    "frequency_penalty": (_between(-2, 2), "a number between -2 and 2"),
    "logprobs": (lambda v: isinstance(v, bool), "a boolean"),
    "top_logprobs": (lambda v: _is_int(v) and 0 <= v <= 20, "an integer between 0 and 20"),
    "tools": (lambda v: isinstance(v, list) and all(isinstance(t, dict) for t in v), "a list of objects"),
    "tool_choice": (lambda v: isinstance(v, str | dict), "a string or an object"),
    "response_format": (
        lambda v: isinstance(v, dict) and isinstance(v.get("type"), str),
        "an object with a type",
    ),
    "user": (lambda v: isinstance(v, str), "a string"),
    "metadata": (lambda v: isinstance(v, dict), "an object"),
}


def parse_chat_request(body: dict[str, Any], provider_hint: str | None) -> ChatRequest:
    """An OpenAI chat-completions body; unknown fields are kept and forwarded."""
    model = _model(body)
    _messages(body)
    for name, (check, expected) in _CHAT_FIELDS.items():
        value = body.get(name)
        if value is not None and not check(value):
            raise InvalidRequest(f"'{name}' must be {expected}", param=name)
    options = body.get("stream_options") or {}
    include_usage = options.get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise InvalidRequest("'stream_options.include_usage' must be a boolean", param="stream_options")
    return ChatRequest(
        model=model,
        body=body,
        stream=bool(body.get("stream")),
        include_usage=include_usage,
        provider_hint=provider_hint,
        metadata=body.get("metadata"),
    )


def parse_seed_request(body: dict[str, Any], provider_hint: str | None) -> ChatRequest:
    """The seed API's `/v1/completions` body: model, messages, temperature, max_tokens,
    stream, metadata. Other fields are refused rather than silently ignored."""
    unknown = sorted(set(body) - set(_SEED_FIELDS))
    if unknown:
        raise InvalidRequest(
            f"Unknown field(s) {', '.join(unknown)}; /v1/completions accepts {', '.join(_SEED_FIELDS)} "
            "(use /v1/chat/completions for the full OpenAI request)",
            param=unknown[0],
        )
    chat_body: dict[str, Any] = {
        key: body[key] for key in ("model", "messages", "temperature", "max_tokens") if key in body
    }
    seed = parse_chat_request(
        {**chat_body, "stream": body.get("stream"), "metadata": body.get("metadata")}, provider_hint
    )
    seed.body = {key: value for key, value in chat_body.items() if value is not None}
    return seed


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise InvalidRequest("'model' is required", param="model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string", param="model")
    return model


def _messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("'messages' is required", param="messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty list", param="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"'{where}' must be an object", param=where)
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequest(
                f"'{where}.role' must be one of {', '.join(sorted(_ROLES))}", param=f"{where}.role"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidRequest(
                f"'{where}.content' must be a string or a list of parts", param=f"{where}.content"
            )
        if isinstance(content, list) and not all(isinstance(p, dict) and "type" in p for p in content):
            raise InvalidRequest(
                f"'{where}.content' parts must be objects with a 'type'", param=f"{where}.content"
            )
