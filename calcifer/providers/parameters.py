"""Pieces of the adapters' parameter tables that every vendor shares: which values ask for
nothing (`n: 1`, `logprobs: false`...), and the legacy `functions` / `function_call`
read as `tools` / `tool_choice` for vendors that only know tools, and the vendor's own
fields passed through beside the translated ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from calcifer.domain.provider import ParameterRule, refused
from calcifer.errors import InvalidRequest

__all__ = [
    "INERT",
    "add_native_fields",
    "content_parts",
    "function_calls",
    "function_tools",
    "inert",
    "only",
    "response_format_types",
    "tool_choices",
    "tools_view",
]


def only(*allowed: object) -> Callable[[Any], bool]:
    """Serves exactly these values."""
    return lambda value: any(value == a and type(value) is type(a) for a in allowed)


def _empty(value: Any) -> bool:
    return value in ({}, [], "")


def _text_only(value: Any) -> bool:
    return isinstance(value, list) and all(item == "text" for item in value)


def _zero(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def response_format_types(*types: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, dict) and value.get("type") in types


def content_parts(*types: str) -> Callable[[Any], bool]:
    """Serves messages whose content parts are all of these types (text is always fine)."""
    served = {"text", *types}

    def serves(messages: Any) -> bool:
        for message in messages if isinstance(messages, list) else ():
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list) and any(
                isinstance(part, dict) and part.get("type") not in served for part in content
            ):
                return False
        return True

    return serves


# The values of parameters that ask for nothing beyond the vendor's default behaviour.
INERT: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "n": (only(1), "1"),
    "logprobs": (only(False), "false"),
    "top_logprobs": (_zero, "0"),
    "logit_bias": (_empty, "{}"),
    "modalities": (_text_only, '["text"]'),
    "presence_penalty": (_zero, "0"),
    "frequency_penalty": (_zero, "0"),
    "store": (only(False), "false"),
    "parallel_tool_calls": (only(True), "true"),
}


def inert(name: str, why: str) -> ParameterRule:
    """A refused parameter that is still accepted with the value that asks for nothing."""
    serves, values = INERT[name]
    return refused(why, serves, values)


def add_native_fields(target: dict[str, Any], source: Mapping[str, Any], native: frozenset[str]) -> None:
    """Copies into the vendor request `target` the vendor's own fields (`native`) the client
    sent; one that a translated OpenAI parameter already set is refused, never overwritten."""
    for name in native & source.keys():
        if source[name] is None:
            continue
        if name in target:
            raise InvalidRequest(
                f"'{name}' was sent both as is and as the translation of an OpenAI parameter; send one",
                param=name,
            )
        target[name] = source[name]


def tools_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with legacy `functions` / `function_call` as `tools` / `tool_choice`.

    OpenAI deprecated them for tools; a vendor that only knows tools gets the same request.
    Legacy functions are added to any `tools`; an explicit `tool_choice` wins over
    `function_call`. An assistant message's `function_call` becomes a tool call."""
    functions = body.get("functions")
    choice = body.get("function_call")
    view = dict(body)
    if any(isinstance(m, dict) and m.get("function_call") for m in body.get("messages") or ()):
        view["messages"] = [_with_tool_calls(message) for message in body["messages"]]
    if functions:
        legacy = [{"type": "function", "function": function} for function in functions]
        view["tools"] = [*(body.get("tools") or ()), *legacy]
    if choice is not None and body.get("tool_choice") is None:
        view["tool_choice"] = (
            {"type": "function", "function": {"name": choice.get("name")}}
            if isinstance(choice, dict)
            else choice
        )
    return view


def _with_tool_calls(message: Any) -> Any:
    """A legacy assistant `function_call` as a tool call whose id is the function's name,
    the name its `function` role result answers to."""
    call = message.get("function_call") if isinstance(message, dict) else None
    if not isinstance(call, dict):
        return message
    tool_call = {"id": call.get("name"), "type": "function", "function": call}
    rest = {key: value for key, value in message.items() if key != "function_call"}
    return {**rest, "tool_calls": [*(message.get("tool_calls") or ()), tool_call]}


def function_tools(tools: Any) -> bool:
    """Serves tool lists of function tools only (OpenAI's custom tools have no equivalent)."""
    return isinstance(tools, list) and all(
        isinstance(tool, dict) and tool.get("type", "function") == "function" for tool in tools
    )


def tool_choices(choice: Any) -> bool:
    """Serves auto, none, required and a named function (not allowed_tools, not custom)."""
    if isinstance(choice, str):
        return choice in ("auto", "none", "required")
    return isinstance(choice, dict) and choice.get("type", "function") == "function"


def function_calls(choice: Any) -> bool:
    """Serves the legacy `function_call`: auto, none or a named function."""
    return choice in ("auto", "none") or (isinstance(choice, dict) and isinstance(choice.get("name"), str))
