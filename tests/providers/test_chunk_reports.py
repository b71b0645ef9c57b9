"""Adapters that translate a vendor's stream report on each chunk the same facts (delivered
characters, finish reasons, response id and model) the OpenAI reader finds in its body."""

from __future__ import annotations

from google.genai import types

from calcifer.domain.chat import Chunk
from calcifer.formats.openai_chat import read_chunk
from calcifer.providers.anthropic import StreamTranslator
from calcifer.providers.google import ResponseReader

ANTHROPIC_EVENTS = [
    {"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 5}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Let me check."}},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "t", "name": "f"},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"a"'},
    },
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
    {"type": "message_stop"},
]
GEMINI_RESPONSES = [
    {
        "response_id": "gem_1",
        "model_version": "gemini-2.5-flash-001",
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hmm.", "thought": True}]}}],
    },
    {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"a": 1}}}]},
                "finish_reason": "STOP",
            }
        ],
    },
]


def facts(chunk: Chunk) -> tuple[object, ...]:
    return chunk.text_chars, chunk.finish_reasons, chunk.response_id, chunk.response_model


def test_anthropic_chunks_report_what_their_body_says() -> None:
    translator = StreamTranslator("anthropic", "claude")
    chunks = [chunk for event in ANTHROPIC_EVENTS for chunk in translator.feed(event)]
    assert [facts(c) for c in chunks] == [facts(read_chunk(c.data)) for c in chunks]
    assert sum(c.text_chars for c in chunks) == len("Hmm.") + len("Let me check.") + len('{"a"')
    assert [r for c in chunks for r in c.finish_reasons] == ["tool_calls"]


def test_gemini_chunks_report_what_their_body_says() -> None:
    reader = ResponseReader("gemini-2.5-flash")
    chunks = [
        reader.chunk(delta, finish)
        for raw in GEMINI_RESPONSES
        for delta, finish in reader.read(types.GenerateContentResponse.model_validate(raw))
    ]
    assert [facts(c) for c in chunks] == [facts(read_chunk(c.data)) for c in chunks]
    assert sum(c.text_chars for c in chunks) == len("Hmm.") + len('{"a":1}')
    assert chunks[-1].finish_reasons == ("tool_calls",)
