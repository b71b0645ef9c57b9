"""The content of a Messages conversation → chat messages: the system prompt, text, images,
plain-text documents, tool calls and tool results; thinking blocks of earlier turns are dropped.
What has no chat equivalent is recorded as untranslatable (`Translation.cannot`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from calcifer.domain.dialect import Untranslatable
from calcifer.errors import InvalidRequest

__all__ = ["Translation", "block_extras", "conversation", "system_messages"]

JsonObject = dict[str, Any]


@dataclass(slots=True)
class Translation:
    """The canonical body and what it leaves out."""

    body: JsonObject
    untranslatable: list[Untranslatable] = field(default_factory=list)

    def cannot(self, param: str, why: str) -> None:
        self.untranslatable.append(Untranslatable(param, why))


def system_messages(system: object, out: Translation, where: str = "system") -> list[JsonObject]:
    """The top-level `system`, or a `system` turn inside `messages` (Claude Code sends its
    environment that way), as a chat system message."""
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    if not isinstance(system, list):
        raise InvalidRequest(f"'{where}' must be a string or a list of text blocks", param=where)
    texts = []
    for index, block in enumerate(system):
        if (
            not isinstance(block, dict)
            or block.get("type") != "text"
            or not isinstance(block.get("text"), str)
        ):
            raise InvalidRequest(f"'{where}[{index}]' must be a text block", param=f"{where}[{index}]")
        block_extras(block, {"type", "text", "cache_control"}, f"{where}[{index}]", out)
        texts.append(block["text"])
    return [{"role": "system", "content": "\n\n".join(texts)}] if texts else []


def conversation(messages: object, out: Translation) -> list[JsonObject]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' is required and must be a non-empty list", param="messages")
    chat: list[JsonObject] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"'{where}' must be an object", param=where)
        role, content = message.get("role"), message.get("content")
        if role == "system":
            chat += system_messages(content, out, f"{where}.content")
            continue
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"'{where}.role' must be user, assistant or system", param=f"{where}.role")
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
            block_extras(block, {"type", "text", "cache_control", "citations"}, where, self._out)
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
            block_extras(block, {"type", "text", "cache_control", "citations"}, where, self._out)
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


def block_extras(block: JsonObject, known: set[str], where: str, out: Translation) -> None:
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
