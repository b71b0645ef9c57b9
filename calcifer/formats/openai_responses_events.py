"""Canonical chat chunks as the Responses streaming grammar, for one response.

`response.created` and `response.in_progress` first; then each output item (reasoning,
message, function call) from `output_item.added` to `output_item.done`, one open at a time,
each with its own `output_index`; then `response.completed` (or `response.incomplete` on a
length cut, `response.failed` when the upstream fails). Every event carries the next
`sequence_number` and the lifecycle events the same response id, as the SDK's accumulator
insists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from calcifer.formats import openai_responses_output as out

__all__ = ["ResponseEvents"]

_TEXT_DELTA_HEAD = (
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":'
)

JsonObject = dict[str, Any]
Encode = Callable[[object], bytes]


@dataclass(slots=True)
class _OpenItem:
    item: JsonObject
    index: int
    text: list[str] = field(default_factory=list)
    delta_head: bytes | None = None


class ResponseEvents:
    """Events for one response; `response` is its `in_progress` object, `custom` the names of
    the request's free-form tools (their calls come back as `custom_tool_call` items)."""

    def __init__(self, response: JsonObject, custom: frozenset[str], encode: Encode) -> None:
        self.response = response
        self._custom = custom
        self._encode = encode
        self._sequence = 0
        self._done: list[JsonObject] = []
        self._open: _OpenItem | None = None
        self._call_index: int | None = None
        self._finish: str | None = None

    @property
    def started(self) -> bool:
        return self._sequence > 0

    def start(self) -> bytes:
        return self._event("response.created", response=self.response) + self._event(
            "response.in_progress", response=self.response
        )

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """The events for one `chat.completion.chunk` (often none: a usage-only chunk)."""
        frames = b""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                frames += self._reasoning(delta["reasoning_content"])
            if delta.get("content"):
                frames += self._text(delta["content"])
            for call in delta.get("tool_calls") or ():
                frames += self._call(call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return frames

    def finish(self, usage: JsonObject) -> bytes:
        """Close the open item and complete `response` (its output and usage); the events
        that close the item. The terminal event is `terminal()`, sent once the response is stored."""
        frames = self._close()
        status, details = out.status_of(self._finish)
        self.response.update(status=status, incomplete_details=details, output=self._done, usage=usage)
        return frames

    def terminal(self) -> bytes:
        kind = "response.completed" if self.response["status"] == out.FINISHED else "response.incomplete"
        return self._event(kind, response=self.response)

    def failed(self, error: Mapping[str, Any]) -> bytes:
        """The stream broke after it started: `response.failed` with the gateway's error."""
        code = "rate_limit_exceeded" if error.get("type") == "rate_limit_error" else "server_error"
        head = b"" if self.started else self.start()
        self.response.update(
            status="failed", output=self._done, error={"code": code, "message": error.get("message")}
        )
        return head + self._event("response.failed", response=self.response)

    # --- items ---------------------------------------------------------------------------

    def _reasoning(self, text: str) -> bytes:
        frames = b""
        if self._open is None or self._open.item["type"] != "reasoning":
            frames = self._add(out.reasoning_item(out.new_id("rs"), "") | {"status": "in_progress"})
            frames += self._event("response.reasoning_summary_part.added", **self._where(),
                                  summary_index=0, part={"type": "summary_text", "text": ""})  # fmt: skip
        assert self._open is not None
        self._open.text.append(text)
        return frames + self._event(
            "response.reasoning_summary_text.delta", **self._where(), summary_index=0, delta=text
        )

    def _text(self, text: str) -> bytes:
        frames = b""
        if self._open is None or self._open.item["type"] != "message":
            item = out.message_item(out.new_id("msg"), "", "in_progress") | {"content": []}
            frames = self._add(item)
            frames += self._event("response.content_part.added", **self._where(), content_index=0,
                                  part={"type": "output_text", "text": "", "annotations": []})  # fmt: skip
        assert self._open is not None
        self._open.text.append(text)
        return frames + self._text_delta(text)

    def _text_delta(self, text: str) -> bytes:
        """`response.output_text.delta`, the event of nearly every chunk: assembled from bytes
        made once per item (half the cost of building and encoding its dict)."""
        assert self._open is not None
        if self._open.delta_head is None:
            where = orjson.dumps(self._where())[1:-1]
            self._open.delta_head = b'"content_index":0,' + where + b',"logprobs":[],"delta":'
        sequence = self._sequence
        self._sequence += 1
        head, number = self._open.delta_head, str(sequence).encode()
        return b"".join((_TEXT_DELTA_HEAD, number, b",", head, orjson.dumps(text), b"}\n\n"))

    def _call(self, call: Mapping[str, Any]) -> bytes:
        frames = b""
        index = call.get("index", 0)
        function = call.get("function") or {}
        if self._open is None or self._call_index != index:
            name, call_id = str(function.get("name") or ""), str(call.get("id") or out.new_id("call"))
            item = out.function_call_item(out.new_id("fc"), call_id, name, "", self._custom, "in_progress")
            frames = self._add(item)
            self._call_index = index
        assert self._open is not None
        arguments = function.get("arguments") or ""
        self._open.text.append(arguments)
        if arguments and self._open.item["type"] == "function_call":
            frames += self._event("response.function_call_arguments.delta", **self._where(), delta=arguments)
        return frames

    def _add(self, item: JsonObject) -> bytes:
        frames = self._close()
        self._open = _OpenItem(item, len(self._done))
        return frames + self._event("response.output_item.added", output_index=self._open.index, item=item)

    def _close(self) -> bytes:
        open_item, self._open, self._call_index = self._open, None, None
        if open_item is None:
            return b""
        item, text, where = open_item.item, "".join(open_item.text), self._where(open_item)
        kind, frames = item["type"], b""
        if kind == "message":
            part = {"type": "output_text", "text": text, "annotations": []}
            frames = self._event(
                "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
            )
            frames += self._event("response.content_part.done", **where, content_index=0, part=part)
            done = out.message_item(item["id"], text)
        elif kind == "reasoning":
            frames = self._event("response.reasoning_summary_text.done", **where, summary_index=0, text=text)
            part = {"type": "summary_text", "text": text}
            frames += self._event("response.reasoning_summary_part.done", **where, summary_index=0, part=part)
            done = out.reasoning_item(item["id"], text)
        else:
            done = out.function_call_item(item["id"], item["call_id"], item["name"], text, self._custom)
            frames = self._call_done(done, where)
        self._done.append(done)
        return frames + self._event("response.output_item.done", output_index=open_item.index, item=done)

    def _call_done(self, done: JsonObject, where: JsonObject) -> bytes:
        if done["type"] == "function_call":
            return self._event("response.function_call_arguments.done", **where, arguments=done["arguments"])
        # a free-form tool's input is known once its JSON wrapper is whole
        delta = self._event("response.custom_tool_call_input.delta", **where, delta=done["input"])
        return delta + self._event("response.custom_tool_call_input.done", **where, input=done["input"])

    def _where(self, item: _OpenItem | None = None) -> JsonObject:
        item = item or self._open
        assert item is not None
        return {"item_id": item.item["id"], "output_index": item.index}

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + self._encode(payload) + b"\n\n"
