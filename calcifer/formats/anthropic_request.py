"""An Anthropic Messages request → the canonical chat body, plus what the chat shape cannot say.

The translation serves providers that do not speak Messages (an Anthropic provider is sent the
client's own body). Pure hints with no chat equivalent are dropped (`IGNORED_HINTS`); anything
else the chat shape cannot express is listed as `Untranslatable`, which refuses the request
only on a provider that needs the translation. Shapes that are wrong for any provider (no
`messages`, a role that is not user/assistant) are a 400 here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from calcifer.domain.dialect import Untranslatable
from calcifer.errors import InvalidRequest

__all__ = ["IGNORED_HINTS", "Translation", "effort_of_budget", "translate_messages_request"]

JsonObject = dict[str, Any]

IGNORED_HINTS = {
    "context_management": "Anthropic's server-side context editing; the whole history is sent instead",
    "cache_control": "prompt-caching markers (top level, on blocks and tools): caching is the target's own",
    "thinking.display": "how Anthropic shows thinking; the target's reasoning is reported as it comes",
    "speed": "Anthropic's fast mode",
    "diagnostics": "Anthropic's request diagnostics",
    "service_tier": "Anthropic's capacity tier",
    "metadata (other than user_id)": "not sent anywhere by Anthropic either",
    "tools[].defer_loading": "tool search: the target is shown every tool at once",
}
"""Fields dropped when translating, because they ask nothing of the answer (docs/dialects.md)."""

_TOP_LEVEL = frozenset(
    {"model", "messages", "max_tokens", "system", "stop_sequences", "stream", "tools", "tool_choice",
     "temperature", "top_p", "thinking", "metadata", "output_config"}
)  # fmt: skip
_HINT_FIELDS = frozenset({"context_management", "cache_control", "speed", "diagnostics", "service_tier"})
# `defer_loading` (tool search): the target is shown every tool at once instead.
_TOOL_FIELDS = frozenset(
    {"type", "name", "description", "input_schema", "cache_control", "strict", "defer_loading"}
)
# Effort for an extended-thinking budget (Anthropic's budgets start at 1,024 tokens).
_BUDGET_EFFORTS = ((2048, "low"), (8192, "medium"), (16384, "high"))
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"}


def effort_of_budget(budget: int) -> str:
    """The reasoning effort of a thinking budget: ≤ 2,048 low, ≤ 8,192 medium, ≤ 16,384 high."""
    for ceiling, effort in _BUDGET_EFFORTS:
        if budget <= ceiling:
            return effort
    return "xhigh"


@dataclass(slots=True)
class Translation:
    """The canonical body and what it leaves out."""

    body: JsonObject
    untranslatable: list[Untranslatable] = field(default_factory=list)

    def cannot(self, param: str, why: str) -> None:
        self.untranslatable.append(Untranslatable(param, why))


def translate_messages_request(body: JsonObject, *, require_max_tokens: bool = True) -> Translation:
    """`body` (already known to be an object) as a chat-completions body."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' is required and must be a non-empty string", param="model")
    max_tokens = body.get("max_tokens")
    if max_tokens is None and require_max_tokens:
        raise InvalidRequest("'max_tokens' is required", param="max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise InvalidRequest("'max_tokens' must be a positive integer", param="max_tokens")
    out = Translation({"model": model})
    messages = _system(body.get("system"), out)
    messages += _conversation(body.get("messages"), out)
    out.body["messages"] = messages
    if max_tokens is not None:
        out.body["max_completion_tokens"] = max_tokens
    if isinstance(body.get("stream"), bool):
        out.body["stream"] = body["stream"]
    _sampling(body, out)
    _tools(body.get("tools"), body.get("tool_choice"), out)
    _reasoning(body.get("thinking"), body.get("output_config"), out)
    _metadata(body.get("metadata"), out)
    for name in body:
        if name not in _TOP_LEVEL and name not in _HINT_FIELDS:
            out.cannot(name, "a Messages API field the chat shape has no equivalent for")
    return out


# --- system and conversation ----------------------------------------------------------------


def _system(system: object, out: Translation) -> list[JsonObject]:
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    if not isinstance(system, list):
        raise InvalidRequest("'system' must be a string or a list of text blocks", param="system")
    texts = []
    for index, block in enumerate(system):
        if (
            not isinstance(block, dict)
            or block.get("type") != "text"
            or not isinstance(block.get("text"), str)
        ):
            raise InvalidRequest(f"'system[{index}]' must be a text block", param=f"system[{index}]")
        _block_extras(block, {"type", "text", "cache_control"}, f"system[{index}]", out)
        texts.append(block["text"])
    return [{"role": "system", "content": "\n\n".join(texts)}] if texts else []


def _conversation(messages: object, out: Translation) -> list[JsonObject]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' is required and must be a non-empty list", param="messages")
    chat: list[JsonObject] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"'{where}' must be an object", param=where)
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"'{where}.role' must be user or assistant", param=f"{where}.role")
        if isinstance(content, str):
            chat.append({"role": role, "content": content})
            continue
        if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
            raise InvalidRequest(
                f"'{where}.content' must be a string or a list of content blocks", param=f"{where}.content"
            )
        turn = _AssistantTurn(where, out) if role == "assistant" else _UserTurn(where, out)
        for number, block in enumerate(content):
            turn.add(block, f"{where}.content[{number}]")
        chat += turn.messages()
    return chat


class _UserTurn:
    """A user turn: tool results become `tool` messages (first, as chat wants them right after
    the assistant's calls), the rest one user message of parts."""

    def __init__(self, where: str, out: Translation) -> None:
        self._out = out
        self._results: list[JsonObject] = []
        self._parts: list[JsonObject] = []

    def add(self, block: JsonObject, where: str) -> None:
        kind = block.get("type")
        if kind == "text":
            _block_extras(block, {"type", "text", "cache_control", "citations"}, where, self._out)
            self._parts.append({"type": "text", "text": _text(block, where)})
        elif kind == "image":
            self._parts.append(_image_part(block, where, self._out))
        elif kind == "document":
            self._parts.append(_document_part(block, where, self._out))
        elif kind == "tool_result":
            self._results.append(_tool_result(block, where, self._out))
        else:
            self._out.cannot(f"{where}.type", f"'{kind}' blocks have no chat equivalent")

    def messages(self) -> list[JsonObject]:
        if not self._parts:
            return self._results
        if all(part["type"] == "text" for part in self._parts):
            return [*self._results, {"role": "user", "content": "".join(p["text"] for p in self._parts)}]
        return [*self._results, {"role": "user", "content": self._parts}]


class _AssistantTurn:
    """An assistant turn: text, and tool_use blocks as tool calls. Thinking blocks are dropped:
    their signatures can only be checked by Anthropic, and the chat shape sends no reasoning back."""

    def __init__(self, where: str, out: Translation) -> None:
        self._out = out
        self._text: list[str] = []
        self._calls: list[JsonObject] = []

    def add(self, block: JsonObject, where: str) -> None:
        kind = block.get("type")
        if kind == "text":
            _block_extras(block, {"type", "text", "cache_control", "citations"}, where, self._out)
            self._text.append(_text(block, where))
        elif kind == "tool_use":
            self._calls.append(_tool_call(block, where))
        elif kind in ("thinking", "redacted_thinking"):
            return
        else:
            self._out.cannot(f"{where}.type", f"'{kind}' blocks have no chat equivalent")

    def messages(self) -> list[JsonObject]:
        message: JsonObject = {"role": "assistant", "content": "".join(self._text) if self._text else None}
        if self._calls:
            message["tool_calls"] = self._calls
        elif message["content"] is None:
            message["content"] = ""
        return [message]


def _text(block: JsonObject, where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(f"'{where}.text' must be a string", param=f"{where}.text")
    return text


def _block_extras(block: JsonObject, known: set[str], where: str, out: Translation) -> None:
    for name in block:
        if name not in known:
            out.cannot(f"{where}.{name}", "the chat shape cannot carry it")


def _image_part(block: JsonObject, where: str, out: Translation) -> JsonObject:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source, dict):
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif kind == "url" and isinstance(source, dict) and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        out.cannot(f"{where}.source", f"image sources of type '{kind}' (only base64 and url translate)")
        url = ""
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(block: JsonObject, where: str, out: Translation) -> JsonObject:
    """A plain-text document is text; PDFs, files and the rest have no chat equivalent."""
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    out.cannot(f"{where}.source", "documents other than plain text (PDF, files, content) do not translate")
    return {"type": "text", "text": ""}


def _tool_result(block: JsonObject, where: str, out: Translation) -> JsonObject:
    content = block.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    elif isinstance(content, list):
        pieces = []
        for number, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                pieces.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else None
                out.cannot(
                    f"{where}.content[{number}]",
                    f"tool results of type '{kind}' (chat tool results are text)",
                )
        text = "".join(pieces)
    else:
        raise InvalidRequest(
            f"'{where}.content' must be a string or a list of blocks", param=f"{where}.content"
        )
    if block.get("is_error") is True:
        text = f"Error: {text}"  # the chat shape has no error flag on a tool result
    return {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}


def _tool_call(block: JsonObject, where: str) -> JsonObject:
    name, arguments = block.get("name"), block.get("input", {})
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise InvalidRequest(f"'{where}' needs a name and an input object", param=where)
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {"name": name, "arguments": orjson.dumps(arguments).decode()},
    }


# --- parameters ------------------------------------------------------------------------------


def _sampling(body: JsonObject, out: Translation) -> None:
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out.body[name] = body[name]
    if (stops := body.get("stop_sequences")) is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequest("'stop_sequences' must be a list of strings", param="stop_sequences")
        if stops:
            out.body["stop"] = stops
    if body.get("top_k") is not None:
        out.cannot("top_k", "the chat shape has no top_k")


def _tools(tools: object, choice: object, out: Translation) -> None:
    if tools is not None:
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise InvalidRequest("'tools' must be a list of objects", param="tools")
        functions = [_function(tool, f"tools[{index}]", out) for index, tool in enumerate(tools)]
        if functions:
            out.body["tools"] = functions
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("auto", "none"):
        out.body["tool_choice"] = kind
    elif kind == "any":
        out.body["tool_choice"] = "required"
    elif kind == "tool" and isinstance(choice, dict) and isinstance(choice.get("name"), str):
        out.body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise InvalidRequest("'tool_choice' must be auto, any, none or a named tool", param="tool_choice")
    if isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True and kind != "none":
        out.body["parallel_tool_calls"] = False


def _function(tool: JsonObject, where: str, out: Translation) -> JsonObject:
    kind = tool.get("type", "custom")
    if kind not in ("custom", None):
        out.cannot(f"{where}.type", f"'{kind}' is one of Anthropic's server tools, which only Anthropic runs")
    elif not isinstance(tool.get("name"), str):
        raise InvalidRequest(f"'{where}.name' is required", param=f"{where}.name")
    _block_extras(tool, set(_TOOL_FIELDS), where, out)
    function: JsonObject = {
        "name": tool.get("name"),
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _reasoning(thinking: object, output_config: object, out: Translation) -> None:
    """thinking → `reasoning_effort`: a budget by its size, adaptive by `output_config.effort`;
    `output_config.format` → `response_format`."""
    config = output_config if isinstance(output_config, dict) else {}
    if output_config is not None and not isinstance(output_config, dict):
        raise InvalidRequest("'output_config' must be an object", param="output_config")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if thinking is not None and kind not in ("enabled", "disabled", "adaptive", "between_tools"):
        raise InvalidRequest("'thinking.type' must be enabled, disabled or adaptive", param="thinking")
    if kind == "enabled" and isinstance(thinking, dict):
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise InvalidRequest("'thinking.budget_tokens' must be a positive integer", param="thinking")
        out.body["reasoning_effort"] = effort_of_budget(budget)
    elif kind != "disabled" and (effort := config.get("effort")) is not None:
        if effort not in _EFFORTS:
            raise InvalidRequest(
                f"'output_config.effort' must be one of {', '.join(_EFFORTS)}", param="output_config.effort"
            )
        out.body["reasoning_effort"] = _EFFORTS[effort]
    if (form := config.get("format")) is not None:
        out.body["response_format"] = _response_format(form, out)
    for name in config:
        if name not in ("effort", "format"):
            out.cannot(f"output_config.{name}", "the chat shape has no equivalent")


def _response_format(form: object, out: Translation) -> JsonObject:
    if isinstance(form, dict) and form.get("type") == "json_schema" and isinstance(form.get("schema"), dict):
        return {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": form["schema"], "strict": True},
        }
    out.cannot("output_config.format", "only json_schema output formats translate")
    return {"type": "text"}


def _metadata(metadata: object, out: Translation) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise InvalidRequest("'metadata' must be an object", param="metadata")
    user = metadata.get("user_id")
    if isinstance(user, str) and user:
        out.body["user"] = user
