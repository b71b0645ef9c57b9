"""The options of a Responses request (tools, tool choice, output format, sampling) in the
canonical chat body, and the fields the bridge leaves out on purpose."""

from __future__ import annotations

from typing import Any

from calcifer.domain.dialect import Untranslatable

__all__ = ["DROPPED_TOOLS", "IGNORED_FIELDS", "Translation", "add_options", "custom_tool_names"]

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

DROPPED_TOOLS = frozenset({"web_search", "web_search_preview", "namespace"})
"""Built-in tools a bridged request goes without: every Codex turn names `web_search`, and
chat's `web_search_options` only works on OpenAI's search models, so mapping it would break
the turn on every other model; Codex also groups its sub-agent tools under a `namespace` tool,
whose calls only OpenAI's own models know how to answer."""

_COPIED = ("temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier", "service_tier")
_TRANSLATED = frozenset({"model", "input", "instructions", "tools", "tool_choice", "text", "reasoning",
                         "max_output_tokens", "stream", *_COPIED})  # fmt: skip


class Translation:
    """The canonical body being built, and what could not be put in it."""

    def __init__(self) -> None:
        self.messages: list[JsonObject] = []
        self.untranslatable: list[Untranslatable] = []

    def refuse(self, param: str, why: str) -> None:
        self.untranslatable.append(Untranslatable(param, why))


def custom_tool_names(body: JsonObject) -> frozenset[str]:
    """The request's `custom` (free-form) tools, which the bridge offered as functions."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return frozenset()
    return frozenset(str(t.get("name")) for t in tools if isinstance(t, dict) and t.get("type") == "custom")


# --- options -----------------------------------------------------------------------------


def add_options(out: Translation, body: JsonObject, canonical: JsonObject) -> None:
    for name in _COPIED:
        if body.get(name) is not None:
            canonical[name] = body[name]
    if body.get("max_output_tokens") is not None:
        canonical["max_completion_tokens"] = body["max_output_tokens"]
    tools = _tools(out, body.get("tools") or [])
    choice = body.get("tool_choice")
    if tools:
        canonical["tools"] = tools
        if choice is not None:
            canonical["tool_choice"] = _tool_choice(out, choice)
    else:  # chat servers refuse tool settings without tools (all of them may have been dropped)
        canonical.pop("parallel_tool_calls", None)
    _add_text_options(out, body.get("text") or {}, canonical)
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        canonical["reasoning_effort"] = effort
    if body.get("background"):
        out.refuse("background", "background responses are kept by OpenAI's servers, not translated")
    for name in sorted(set(body) - _TRANSLATED - IGNORED_FIELDS):
        if body[name] is not None:
            out.refuse(name, "a Responses API field with no chat-completions equivalent")


def _tools(out: Translation, tools: list[Any]) -> list[JsonObject]:
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


def _tool_choice(out: Translation, choice: str | JsonObject) -> str | JsonObject:
    if isinstance(choice, str):
        return choice
    if choice.get("type") in ("function", "custom") and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    out.refuse("tool_choice", f"a '{choice.get('type')}' tool choice has no chat-completions equivalent")
    return "auto"


def _add_text_options(out: Translation, text: JsonObject, canonical: JsonObject) -> None:
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
