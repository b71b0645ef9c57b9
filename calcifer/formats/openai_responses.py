"""OpenAI Responses requests (`POST /v1/responses`) read into the canonical chat body.

What chat cannot express becomes an `Untranslatable` (refused only by a provider that needs
the translation); what only steers OpenAI's own servers (cache keys, client metadata, which
extras to include) is left out of the translation on purpose, listed in `IGNORED_FIELDS`.
"""

from __future__ import annotations

from typing import Any

import orjson

from calcifer.domain.chat import ChatRequest
from calcifer.domain.dialect import Dialect, NativeRequest
from calcifer.errors import InvalidRequest
from calcifer.formats.openai_responses_options import (
    DROPPED_TOOLS,
    IGNORED_FIELDS,
    Translation,
    add_options,
    custom_tool_names,
)

__all__ = [
    "DROPPED_TOOLS",
    "IGNORED_FIELDS",
    "custom_tool_names",
    "input_items",
    "parse_responses_request",
]

JsonObject = dict[str, Any]

_MESSAGE_ROLES = frozenset({"user", "system", "developer", "assistant"})
_TOOL_RESULT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})


def parse_responses_request(
    body: JsonObject, provider_hint: str | None, history: list[JsonObject] | None = None
) -> ChatRequest:
    """A Responses body as a `ChatRequest`. `history`: the input and output items of the
    response named by `previous_response_id`, already loaded; they come before this input."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string", param="model")
    _check_types(body)
    items = [*(history or ()), *input_items(body.get("input"))]
    if not items:
        raise InvalidRequest("'input' must not be empty", param="input")
    out = Translation()
    instructions = body.get("instructions")
    if instructions:
        out.messages.append({"role": "system", "content": instructions})
    for index, item in enumerate(items):
        _add_item(out, item, f"input[{index}]")
    canonical: JsonObject = {"model": model, "messages": out.messages}
    add_options(out, body, canonical)
    native_body = body
    if history is not None:  # the upstream does not know our ids: it gets the whole conversation
        expanded = [*_portable(history), *input_items(body.get("input"))]
        native_body = {k: v for k, v in body.items() if k != "previous_response_id"} | {"input": expanded}
    stream = body.get("stream") is True
    if stream:
        canonical["stream"] = True
    return ChatRequest(
        model=model,
        body=canonical,
        stream=stream,
        include_usage=True,
        provider_hint=provider_hint,
        metadata=body.get("metadata"),
        dialect=Dialect.OPENAI_RESPONSES,
        native=NativeRequest(Dialect.OPENAI_RESPONSES, native_body),
        untranslatable=tuple(out.untranslatable),
    )


def input_items(value: object) -> list[JsonObject]:
    """`input` as a list of items (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    return list(value) if isinstance(value, list) else []


def _portable(history: list[JsonObject]) -> list[JsonObject]:
    """Earlier items as another server can take them: without ids it never issued, and without
    reasoning it cannot restore (a bridge's summaries carry no `encrypted_content`)."""
    return [
        {key: value for key, value in item.items() if key != "id"}
        for item in history
        if item.get("type") != "reasoning" or item.get("encrypted_content")
    ]


# --- checks ------------------------------------------------------------------------------

_CHECKS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "input": ((str, list), "a string or a list of items"),
    "instructions": (str, "a string"),
    "tools": (list, "a list of tools"),
    "tool_choice": ((str, dict), "a string or an object"),
    "text": (dict, "an object"),
    "reasoning": (dict, "an object"),
    "metadata": (dict, "an object"),
    "stream": (bool, "a boolean"),
    "store": (bool, "a boolean"),
    "previous_response_id": (str, "a string"),
    "parallel_tool_calls": (bool, "a boolean"),
}


def _check_types(body: JsonObject) -> None:
    for name, (kind, expected) in _CHECKS.items():
        value = body.get(name)
        if value is not None and not isinstance(value, kind):
            raise InvalidRequest(f"'{name}' must be {expected}", param=name)
    limit = body.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidRequest("'max_output_tokens' must be a positive integer", param="max_output_tokens")
    items = body.get("input")
    if isinstance(items, list) and not all(isinstance(item, dict) for item in items):
        raise InvalidRequest("'input' items must be objects", param="input")


# --- input items -------------------------------------------------------------------------


def _add_item(out: Translation, item: JsonObject, where: str) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        _add_message(out, item, where)
    elif kind in ("function_call", "custom_tool_call"):
        _add_tool_call(out, item, where)
    elif kind in _TOOL_RESULT_TYPES:
        output = item.get("output")
        text = output if isinstance(output, str) else _joined_text(output, out, where)
        out.messages.append({"role": "tool", "tool_call_id": str(item.get("call_id")), "content": text})
    elif kind == "reasoning":
        pass  # the canonical shape carries no signed reasoning: a bridged turn starts afresh
    else:
        out.refuse(f"{where}.type", f"'{kind}' items have no chat-completions equivalent")


def _add_message(out: Translation, item: JsonObject, where: str) -> None:
    role = item.get("role")
    if role not in _MESSAGE_ROLES:
        raise InvalidRequest(
            f"'{where}.role' must be one of {', '.join(sorted(_MESSAGE_ROLES))}", param=f"{where}.role"
        )
    content = item.get("content")
    if isinstance(content, str):
        out.messages.append({"role": role, "content": content})
        return
    if not isinstance(content, list):
        raise InvalidRequest(
            f"'{where}.content' must be a string or a list of parts", param=f"{where}.content"
        )
    if role == "assistant":
        out.messages.append({"role": "assistant", "content": _joined_text(content, out, where)})
        return
    parts = [_part(part, out, f"{where}.content[{n}]") for n, part in enumerate(content)]
    out.messages.append({"role": role, "content": [part for part in parts if part is not None]})


def _part(part: object, out: Translation, where: str) -> JsonObject | None:
    if not isinstance(part, dict):
        raise InvalidRequest(f"'{where}' must be an object", param=where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: JsonObject = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    out.refuse(f"{where}.type", f"'{kind}' parts (file ids, files, audio) are not translated to chat")
    return None


def _joined_text(content: object, out: Translation, where: str) -> str:
    """Assistant turns and tool outputs carry text only in chat."""
    if not isinstance(content, list):
        return "" if content is None else str(content)
    texts = []
    for n, part in enumerate(content):
        if isinstance(part, dict) and part.get("type") in ("output_text", "input_text", "text", "refusal"):
            texts.append(str(part.get("text") or part.get("refusal") or ""))
        else:
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            out.refuse(f"{where}.content[{n}].type", f"'{kind}' parts here are not translated to chat")
    return "".join(texts)


def _add_tool_call(out: Translation, item: JsonObject, where: str) -> None:
    if not isinstance(item.get("name"), str) or not item.get("call_id"):
        raise InvalidRequest(f"'{where}' needs a call_id and a name", param=where)
    if item.get("type") == "custom_tool_call":
        arguments = orjson.dumps({"input": str(item.get("input") or "")}).decode()
    else:
        arguments = str(item.get("arguments") or "{}")
    call = {
        "id": str(item["call_id"]),
        "type": "function",
        "function": {"name": item["name"], "arguments": arguments},
    }
    last = out.messages[-1] if out.messages else None
    if last is not None and last["role"] == "assistant":  # one assistant turn: its text and its calls
        last.setdefault("tool_calls", []).append(call)
        if not last.get("content"):
            last["content"] = None
    else:
        out.messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
