"""Canonical chunks → Anthropic's event grammar, read back by the `anthropic` SDK's own
accumulator (the code `client.messages.stream(...)` runs), and the error shape by status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event

from calcifer.domain.chat import Chunk
from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as wire
from calcifer.formats.anthropic_messages import EventWriter, anthropic_error

ENVELOPE = wire.chunk_envelope("chatcmpl-1", "m")


def chunk(delta: dict[str, Any], finish: str | None = None) -> Chunk:
    return wire.delta_chunk(ENVELOPE, delta, finish)


def call(index: int, *, head: bool = False, arguments: str = "") -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    piece: dict[str, Any] = {"index": index, "function": function}
    if head:
        piece.update(id=f"call_{index}", type="function")
        function["name"] = f"tool_{index}"
    return {"tool_calls": [piece]}


def replay(frames: list[bytes]) -> tuple[Any, list[str]]:
    """The SDK's final message, and the frames' event names, checked against their data's type."""
    snapshot, buffers, names = None, {}, []  # type: ignore[var-annotated]
    for frame in frames:
        head, data = frame.removesuffix(b"\n\n").split(b"\n")
        event = orjson.loads(data.removeprefix(b"data: "))
        name = head.removeprefix(b"event: ").decode()
        assert event["type"] == name
        names.append(name)
        if name != "ping":
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)
    return snapshot, names


def test_reasoning_text_and_two_tool_calls_become_ordered_blocks_the_sdk_reads_back() -> None:
    writer = EventWriter("m")
    frames: list[bytes] = []
    for piece in (
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Think"}),
        chunk({"reasoning_content": "ing."}),
        chunk({"content": "Hi"}),
        chunk(call(0, head=True)),
        chunk(call(0, arguments='{"a": ')),
        chunk(call(0, arguments="1}")),
        chunk(call(1, head=True, arguments='{"b": 2}')),
        chunk({}, "tool_calls"),
    ):
        frames += writer.feed(piece)
    frames += writer.finish(Usage(input_tokens=7, output_tokens=3, reasoning_tokens=2), Decimal("0.00012"))
    message, names = replay(frames)
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert (message.content[0].thinking, message.content[0].signature) == ("Thinking.", "")
    assert [(b.name, b.input) for b in message.content[2:]] == [("tool_0", {"a": 1}), ("tool_1", {"b": 2})]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 5)  # thinking counted in
    assert b'"cost":0.00012' in frames[-2]
    starts = [
        orjson.loads(f.split(b"data: ")[1])["index"]
        for f in frames
        if f.startswith(b"event: content_block_start")
    ]
    assert starts == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "invalid_request_error"), (401, "authentication_error"), (402, "billing_error"),
     (403, "permission_error"), (404, "not_found_error"), (413, "request_too_large"),
     (415, "invalid_request_error"), (429, "rate_limit_error"), (500, "api_error"),
     (502, "overloaded_error"), (503, "overloaded_error"), (504, "timeout_error")],
)  # fmt: skip
def test_the_error_type_follows_the_status(status: int, kind: str) -> None:
    body = {"error": {"message": "m", "type": "whatever", "code": "c", "param": None}}
    assert anthropic_error(status, body) == {
        "type": "error",
        "error": {"type": kind, "message": "m", "code": "c"},
    }
