"""An Anthropic Messages request → the canonical chat body, plus what the chat shape cannot say.

The translation serves providers that do not speak Messages (an Anthropic provider is sent the
client's own body). Pure hints with no chat equivalent are dropped (`IGNORED_HINTS`); anything
else the chat shape cannot express is listed as `Untranslatable`, which refuses the request
only on a provider that needs the translation. Shapes that are wrong for any provider (no
`messages`, a role that is not user/assistant) are a 400 here.
"""

from __future__ import annotations

from typing import Any

from calcifer.errors import InvalidRequest
from calcifer.formats.anthropic_content import Translation, block_extras, conversation, system_messages

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
    "tools[].eager_input_streaming": "how Anthropic streams a tool's input; the target streams its own way",
}
"""Fields dropped when translating, because they ask nothing of the answer (docs/dialects.md)."""

_TOP_LEVEL = frozenset(
    {"model", "messages", "max_tokens", "system", "stop_sequences", "stream", "tools", "tool_choice",
     "temperature", "top_p", "thinking", "metadata", "output_config"}
)  # fmt: skip
_HINT_FIELDS = frozenset({"context_management", "cache_control", "speed", "diagnostics", "service_tier"})
# `defer_loading` (tool search): the target is shown every tool at once instead;
# `eager_input_streaming`: how Anthropic streams the input, nothing the answer depends on.
_TOOL_FIELDS = frozenset(
    {
        "type",
        "name",
        "description",
        "input_schema",
        "cache_control",
        "strict",
        "defer_loading",
        "eager_input_streaming",
    }
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
    messages = system_messages(body.get("system"), out)
    messages += conversation(body.get("messages"), out)
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
    block_extras(tool, set(_TOOL_FIELDS), where, out)
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
