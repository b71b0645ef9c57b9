"""OpenAI Responses requests (`POST /v1/responses`) read into the canonical chat body.

What chat cannot express becomes an `Untranslatable` (refused only by a provider that needs
the translation); what only steers OpenAI's own servers (cache keys, client metadata, which
extras to include) is left out of the translation on purpose, listed in `IGNORED_FIELDS`.
"""

from __future__ import annotations

from typing import Any

import orjson

from calcifer.domain.chat import ChatRequest
from calcifer.domain.dialect import Dialect, NativeRequest, Untranslatable
from calcifer.errors import InvalidRequest

__all__ = [
    "DROPPED_TOOLS",
    "IGNORED_FIELDS",
    "custom_tool_names",
    "input_items",
    "parse_responses_request",
]

JsonObject = dict[str, Any]

IGNORED_FIELDS = frozenset(
    {
        "include",  # which extras to return (encrypted reasoning, logprobs): nothing to add in a bridge
        "prompt_cache_key",
        "prompt_cache_retention",
        "client_metadata",  # Codex's own telemetry tags
        "truncation",
        "stream_options",
        "context_management",  # server-side compaction: an optimisation of OpenAI's
        "store",  # honoured by the gateway itself
        "previous_response_id",  # resolved by the gateway before the translation
        "metadata",  # recorded with the request, as on the chat route
        "background",  # refused below when true
    }
)
"""Fields the bridge leaves out of the canonical request without refusing it."""

DROPPED_TOOLS = frozenset({"web_search", "web_search_preview"})
"""Built-in tools a bridged request goes without: every Codex turn names `web_search`, and
chat's `web_search_options` only works on OpenAI's search models, so mapping it would break
the turn on every other model."""

_COPIED = ("temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier", "service_tier")
_TRANSLATED = frozenset({"model", "input", "instructions", "tools", "tool_choice", "text", "reasoning",
                         "max_output_tokens", "stream", *_COPIED})  # fmt: skip
_MESSAGE_ROLES = frozenset({"user", "system", "developer", "assistant"})
_TOOL_RESULT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})


class _Translation:
    """The canonical body being built, and what could not be put in it."""

    def __init__(self) -> None:
        self.messages: list[JsonObject] = []
        self.untranslatable: list[Untranslatable] = []

    def refuse(self, param: str, why: str) -> None:
        self.untranslatable.append(Untranslatable(param, why))


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
    out = _Translation()
    instructions = body.get("instructions")
    if instructions:
        out.messages.append({"role": "system", "content": instructions})
    for index, item in enumerate(items):
        _add_item(out, item, f"input[{index}]")
    canonical: JsonObject = {"model": model, "messages": out.messages}
    _add_options(out, body, canonical)
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


def custom_tool_names(body: JsonObject) -> frozenset[str]:
    """The request's `custom` (free-form) tools, which the bridge offered as functions."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return frozenset()
    return frozenset(str(t.get("name")) for t in tools if isinstance(t, dict) and t.get("type") == "custom")


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


def _add_item(out: _Translation, item: JsonObject, where: str) -> None:
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


def _add_message(out: _Translation, item: JsonObject, where: str) -> None:
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


def _part(part: object, out: _Translation, where: str) -> JsonObject | None:
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


def _joined_text(content: object, out: _Translation, where: str) -> str:
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


def _add_tool_call(out: _Translation, item: JsonObject, where: str) -> None:
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


# --- options -----------------------------------------------------------------------------


def _add_options(out: _Translation, body: JsonObject, canonical: JsonObject) -> None:
    for name in _COPIED:
        if body.get(name) is not None:
            canonical[name] = body[name]
    if body.get("max_output_tokens") is not None:
        canonical["max_completion_tokens"] = body["max_output_tokens"]
    tools = _tools(out, body.get("tools") or [])
    if tools:
        canonical["tools"] = tools
    choice = body.get("tool_choice")
    if choice is not None:
        canonical["tool_choice"] = _tool_choice(out, choice)
    _add_text_options(out, body.get("text") or {}, canonical)
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        canonical["reasoning_effort"] = effort
    if body.get("background"):
        out.refuse("background", "background responses are kept by OpenAI's servers, not translated")
    for name in sorted(set(body) - _TRANSLATED - IGNORED_FIELDS):
        if body[name] is not None:
            out.refuse(name, "a Responses API field with no chat-completions equivalent")


def _tools(out: _Translation, tools: list[Any]) -> list[JsonObject]:
    translated = []
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function" and isinstance(tool.get("name"), str):
            function = {"name": tool["name"], "parameters": tool.get("parameters") or {"type": "object"}}
            if tool.get("description"):
                function["description"] = tool["description"]
            translated.append({"type": "function", "function": function})
        elif kind == "custom" and isinstance(tool.get("name"), str):
            translated.append({"type": "function", "function": _custom_as_function(tool)})
        elif kind not in DROPPED_TOOLS:
            out.refuse(f"tools[{index}].type", f"the built-in '{kind}' tool is OpenAI's own")
    return translated


def _custom_as_function(tool: JsonObject) -> JsonObject:
    """A free-form tool offered as a function of one string, `input` (mapped back on output)."""
    described = str(tool.get("description") or "")
    return {
        "name": tool["name"],
        "description": described,
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The tool's free-form input"}},
            "required": ["input"],
        },
    }


def _tool_choice(out: _Translation, choice: str | JsonObject) -> str | JsonObject:
    if isinstance(choice, str):
        return choice
    if choice.get("type") in ("function", "custom") and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    out.refuse("tool_choice", f"a '{choice.get('type')}' tool choice has no chat-completions equivalent")
    return "auto"


def _add_text_options(out: _Translation, text: JsonObject, canonical: JsonObject) -> None:
    form = text.get("format") or {}
    kind = form.get("type") if isinstance(form, dict) else None
    if kind == "json_schema":
        schema = {key: form[key] for key in ("name", "schema", "strict", "description") if key in form}
        canonical["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind == "json_object":
        canonical["response_format"] = {"type": "json_object"}
    elif kind not in (None, "text"):
        out.refuse("text.format.type", f"'{kind}' output formats have no chat-completions equivalent")
    if text.get("verbosity") is not None:
        canonical["verbosity"] = text["verbosity"]
