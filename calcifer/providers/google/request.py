"""Chat request → Gemini `contents` and generation config, checked against the SDK's own
types before the call (so a value they refuse is the client's 400 or our 500)."""

from __future__ import annotations

from typing import Any

import pydantic
from google.genai import types

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
from calcifer.providers.google.parameters import NATIVE_FIELDS, SERVICE_TIERS, THINKING_BUDGETS
from calcifer.providers.parameters import add_native_fields, tools_view

__all__ = ["generate_request", "sdk_request"]

_CONFIG_FIELDS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def sdk_request(call: UpstreamCall) -> tuple[list[types.Content], types.GenerateContentConfig]:
    """The request in the SDK's own types, checked here, outside the vendor-error boundary.

    The client's data that the SDK refuses (an image that is not base64, a malformed native
    field) is the client's 400; a translated config the SDK refuses is our bug, a 500."""
    contents, config = generate_request(call)
    checked = [_checked(types.Content, content, "messages") for content in contents]
    for name in NATIVE_FIELDS & config.keys():
        _checked(types.GenerateContentConfig, {name: config[name]}, name)
    return checked, types.GenerateContentConfig.model_validate(config)


def _checked(model: type[pydantic.BaseModel], value: dict[str, Any], param: str) -> Any:
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"])
        raise InvalidRequest(
            f"Gemini cannot take '{param}' ({where}): {exc.errors()[0]['msg']}", param=param
        ) from None


def generate_request(call: UpstreamCall) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    source = tools_view(call.request.body)
    system, contents = _contents(source["messages"])
    config: dict[str, Any] = {
        key: source[name] for name, key in _CONFIG_FIELDS.items() if source.get(name) is not None
    }
    limit = source.get("max_completion_tokens") or source.get("max_tokens")
    if limit:
        config["max_output_tokens"] = limit
    if stops := stop_sequences(source):
        config["stop_sequences"] = stops
    if system:
        config["system_instruction"] = system
    if tools := tool_definitions(source):
        config["tools"] = [{"function_declarations": [_declaration(tool) for tool in tools]}]
    if (tool_config := _tool_config(source.get("tool_choice"))) is not None:
        config["tool_config"] = tool_config
    config.update(_response_format(source.get("response_format")))
    if (effort := source.get("reasoning_effort")) is not None:
        budget = THINKING_BUDGETS[effort]
        config["thinking_config"] = {"thinking_budget": budget, "include_thoughts": budget > 0}
    if (tier := SERVICE_TIERS.get(source.get("service_tier") or "")) is not None:
        config["service_tier"] = tier
    add_native_fields(config, source, NATIVE_FIELDS)
    if call.headers:
        config["http_options"] = {"headers": dict(call.headers)}  # traceparent, per request
    return contents, config


def _contents(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for message in messages:
        role = message["role"]
        if role in SYSTEM_ROLES:
            system.extend(p.get("text", "") for p in text_parts(message.get("content")))
            continue
        speaker = "model" if role == "assistant" else "user"
        parts = _parts(role, message, call_names)
        if contents and contents[-1]["role"] == speaker:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": speaker, "parts": parts})
    return "\n\n".join(system), contents


def _parts(role: str, message: dict[str, Any], call_names: dict[str, str]) -> list[dict[str, Any]]:
    if role in ("tool", "function"):
        call_id = message.get("tool_call_id") or message.get("name") or ""
        text = "".join(p.get("text", "") for p in text_parts(message.get("content")))
        name = call_names.get(call_id, message.get("name") or call_id)
        return [{"function_response": {"name": name, "response": {"content": text}}}]
    parts = [_part(part) for part in text_parts(message.get("content"))]
    parts = [part for part in parts if part.get("text") != ""]
    for tool_call in message.get("tool_calls") or ():
        function = tool_call.get("function") or {}
        call_names[str(tool_call.get("id"))] = str(function.get("name"))
        parts.append(
            {
                "function_call": {
                    "name": function.get("name"),
                    "args": parse_arguments(function.get("arguments")),
                }
            }
        )
    return parts


def _part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"text": part.get("text", "")}
    if kind == "image_url":
        source = image_source(part)
        if source.url:
            return {"file_data": {"file_uri": source.url, "mime_type": _guess_mime(source.url)}}
        return {"inline_data": {"mime_type": source.media_type, "data": source.data}}
    raise InvalidRequest(
        f"Content parts of type '{kind}' are not supported by Gemini models", param="messages"
    )


def _guess_mime(url: str) -> str:
    lowered = url.lower().split("?", 1)[0]
    for suffix, mime in ((".png", "image/png"), (".webp", "image/webp"), (".gif", "image/gif")):
        if lowered.endswith(suffix):
            return mime
    return "image/jpeg"


def _declaration(function: dict[str, Any]) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    if function.get("parameters"):
        declaration["parameters_json_schema"] = function["parameters"]
    return declaration


def _tool_config(choice: object) -> dict[str, Any] | None:
    if choice is None:
        return None
    modes = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
    if isinstance(choice, str) and choice in modes:
        return {"function_calling_config": {"mode": modes[choice]}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        return {"function_calling_config": {"mode": "ANY", "allowed_function_names": [name]}}
    raise InvalidRequest("tool_choice must be auto, none, required or a named function", param="tool_choice")


def _response_format(response_format: object) -> dict[str, Any]:
    if not isinstance(response_format, dict) or response_format.get("type") in (None, "text"):
        return {}
    if response_format["type"] == "json_object":
        return {"response_mime_type": "application/json"}
    if response_format["type"] == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return {"response_mime_type": "application/json", "response_json_schema": schema}
    raise InvalidRequest(
        f"response_format type '{response_format['type']}' is not supported", param="response_format"
    )
