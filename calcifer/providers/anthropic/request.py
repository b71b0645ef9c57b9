"""Chat request → Messages API body: system, alternating turns with content blocks, tools,
tool choice, thinking and output format."""

from __future__ import annotations

from typing import Any

from calcifer.domain.provider import UpstreamCall
from calcifer.errors import InvalidRequest
from calcifer.formats.openai_chat import (
    SYSTEM_ROLES,
    image_source,
    parse_arguments,
    stop_sequences,
    text_parts,
    tool_definitions,
)
from calcifer.providers.anthropic.parameters import NATIVE_FIELDS, SERVICE_TIERS, THINKING_BUDGETS
from calcifer.providers.parameters import add_native_fields, tools_view

__all__ = ["DEFAULT_MAX_TOKENS", "messages_request"]

DEFAULT_MAX_TOKENS = 4096
_MIN_THINKING_BUDGET = 1024  # Anthropic's smallest extended-thinking budget


def messages_request(call: UpstreamCall, *, stream: bool) -> dict[str, Any]:
    source = tools_view(call.request.body)
    system, turns = _turns(source["messages"])
    max_tokens, thinking = _thinking(source, call.model.max_output_tokens)
    if thinking is not None and thinking["type"] == "enabled" and _continues_tool_use(turns):
        # Anthropic refuses thinking on a tool loop whose last assistant turn lacks its signed
        # thinking block, and chat cannot carry one back: this step of the loop goes without.
        thinking = None
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
        body["service_tier"] = SERVICE_TIERS[tier]
    add_native_fields(body, source, NATIVE_FIELDS)
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


def _continues_tool_use(turns: list[dict[str, Any]]) -> bool:
    """The conversation ends with tool results answering the last assistant turn's calls."""
    assistant = next((turn for turn in reversed(turns) if turn["role"] == "assistant"), None)
    if assistant is None or turns[-1]["role"] != "user":
        return False
    called = any(block.get("type") == "tool_use" for block in assistant["content"])
    answered = any(block.get("type") == "tool_result" for block in turns[-1]["content"])
    return called and answered


def _output_format(response_format: object) -> dict[str, Any] | None:
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
    return {"type": "json_schema", "schema": schema}


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
