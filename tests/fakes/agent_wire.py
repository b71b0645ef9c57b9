"""One agent step (a shell tool call, or the final text) in each upstream's wire format,
streamed and not: Anthropic Messages, OpenAI chat completions, OpenAI Responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

INPUT_TOKENS = 1200
OUTPUT_TOKENS = 40


@dataclass(frozen=True)
class Step:
    """What the scripted agent says this turn: a call of `tool` with `arguments`, or `text`."""

    text: str = ""
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    call_id: str = "call_agent_1"


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


# Anthropic Messages

THINKING = "Planning the command."
SIGNATURE = "sig-calcifer-e2e-0123456789"
"""The signature of the fake's thinking block: Anthropic checks it when the block comes back."""


def _anthropic_blocks(step: Step, thinking: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if thinking:
        blocks.append({"type": "thinking", "thinking": THINKING, "signature": SIGNATURE})
    if step.tool is not None:
        blocks.append({"type": "tool_use", "id": step.call_id, "name": step.tool, "input": step.arguments})
    else:
        blocks.append({"type": "text", "text": step.text})
    return blocks


def anthropic_message(model: str, step: Step, thinking: bool = False) -> dict[str, Any]:
    """`thinking`: the request enabled it, so the answer starts with a signed thinking block."""
    return {
        "id": "msg_agent_1", "type": "message", "role": "assistant", "model": model,
        "content": _anthropic_blocks(step, thinking),
        "stop_reason": "tool_use" if step.tool else "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
    }  # fmt: skip


def anthropic_events(model: str, step: Step, thinking: bool = False) -> Iterator[bytes]:
    def event(kind: str, **data: Any) -> bytes:
        return _sse({"type": kind, **data}, kind)

    message = anthropic_message(model, step, thinking)
    usage = {"input_tokens": INPUT_TOKENS, "output_tokens": 1}
    yield event("message_start", message={**message, "content": [], "stop_reason": None, "usage": usage})
    yield event("ping")
    for index, block in enumerate(message["content"]):
        for kind, data in _anthropic_block_events(block):
            yield event(kind, index=index, **data)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield event("message_delta", delta=delta, usage={"output_tokens": OUTPUT_TOKENS})
    yield event("message_stop")


def _anthropic_block_events(block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = block["type"]
    if kind == "thinking":
        yield "content_block_start", {"content_block": {"type": "thinking", "thinking": "", "signature": ""}}
        yield "content_block_delta", {"delta": {"type": "thinking_delta", "thinking": block["thinking"]}}
        yield "content_block_delta", {"delta": {"type": "signature_delta", "signature": block["signature"]}}
    elif kind == "tool_use":
        yield "content_block_start", {"content_block": {**block, "input": {}}}
        for piece in _halves(json.dumps(block["input"])):
            yield "content_block_delta", {"delta": {"type": "input_json_delta", "partial_json": piece}}
    else:
        yield "content_block_start", {"content_block": {"type": "text", "text": ""}}
        for piece in _halves(block["text"]):
            yield "content_block_delta", {"delta": {"type": "text_delta", "text": piece}}
    yield "content_block_stop", {}


# OpenAI chat completions

_CHAT_USAGE = {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
               "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}  # fmt: skip


def _chat_call(step: Step) -> dict[str, Any]:
    function = {"name": step.tool, "arguments": json.dumps(step.arguments)}
    return {"id": step.call_id, "type": "function", "function": function}


def chat_completion(model: str, step: Step) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.text or None}
    if step.tool is not None:
        message["tool_calls"] = [_chat_call(step)]
    finish = "tool_calls" if step.tool else "stop"
    return {
        "id": "chatcmpl-agent-1", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _CHAT_USAGE,
    }  # fmt: skip


def chat_events(model: str, step: Step, with_usage: bool) -> Iterator[bytes]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        head = {"id": "chatcmpl-agent-1", "object": "chat.completion.chunk", "created": 1700000000}
        return _sse({**head, "model": model, "choices": choices, **extra})

    yield chunk({"role": "assistant", "content": ""})
    if step.tool is not None:
        call = _chat_call(step)
        first, second = _halves(call["function"]["arguments"])
        yield chunk(
            {"tool_calls": [{"index": 0, **call, "function": {"name": step.tool, "arguments": first}}]}
        )
        yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": second}}]})
    else:
        for piece in _halves(step.text):
            yield chunk({"content": piece})
    yield chunk({}, "tool_calls" if step.tool else "stop")
    if with_usage:
        yield chunk(None, usage=_CHAT_USAGE)
    yield b"data: [DONE]\n\n"


# OpenAI Responses


def _responses_item(step: Step) -> dict[str, Any]:
    if step.tool is not None:
        return {"id": "fc_agent_1", "type": "function_call", "status": "completed", "call_id": step.call_id,
                "name": step.tool, "arguments": json.dumps(step.arguments)}  # fmt: skip
    part = {"type": "output_text", "text": step.text, "annotations": []}
    return {
        "id": "msg_agent_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [part],
    }


def responses_object(model: str, step: Step | None) -> dict[str, Any]:
    """The response: completed with `step`'s output, or (None) just created."""
    usage = {"input_tokens": INPUT_TOKENS, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": OUTPUT_TOKENS, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}  # fmt: skip
    response: dict[str, Any] = {
        "id": "resp_agent_1", "object": "response", "created_at": 1700000000, "model": model,
        "status": "in_progress", "output": [], "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": [],
    }  # fmt: skip
    if step is not None:
        response |= {"status": "completed", "output": [_responses_item(step)], "usage": usage}
    return response


def responses_events(model: str, step: Step) -> Iterator[bytes]:
    item = _responses_item(step)
    ref = {"item_id": item["id"], "output_index": 0}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": responses_object(model, None)}),
        ("response.in_progress", {"response": responses_object(model, None)}),
    ]
    if step.tool is not None:
        arguments, opened = item["arguments"], {**item, "arguments": "", "status": "in_progress"}
        events += [
            ("response.output_item.added", {"output_index": 0, "item": opened}),
            *(("response.function_call_arguments.delta", {**ref, "delta": d}) for d in _halves(arguments)),
            ("response.function_call_arguments.done", {**ref, "arguments": arguments}),
        ]  # fmt: skip
    else:
        part, ref = {"type": "output_text", "text": "", "annotations": []}, {**ref, "content_index": 0}
        opened = {**item, "status": "in_progress", "content": []}
        pieces = _halves(step.text)
        events += [
            ("response.output_item.added", {"output_index": 0, "item": opened}),
            ("response.content_part.added", {**ref, "part": part}),
            *(("response.output_text.delta", {**ref, "delta": piece, "logprobs": []}) for piece in pieces),
            ("response.output_text.done", {**ref, "text": step.text, "logprobs": []}),
            ("response.content_part.done", {**ref, "part": {**part, "text": step.text}}),
        ]  # fmt: skip
    events += [
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": responses_object(model, step)}),
    ]
    for number, (kind, data) in enumerate(events):
        yield _sse({"type": kind, "sequence_number": number, **data}, kind)


def _halves(text: str) -> tuple[str, str]:
    """Two stream pieces, so clients must join deltas (a JSON text cut mid-way included)."""
    middle = len(text) // 2
    return text[:middle], text[middle:]
