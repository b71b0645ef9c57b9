"""The OpenAI chat shape: what adapters build with it, and the facts read out of it for the
gateway's pricing and records."""

from __future__ import annotations

from calcifer.domain.usage import Usage
from calcifer.formats import openai_chat as wire


def test_a_providers_chunk_reports_its_text_finish_reasons_id_and_model() -> None:
    data = {
        "id": "chatcmpl-1",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "delta": {"content": "Hello", "reasoning_content": "hmm"}, "finish_reason": None},
            {
                "index": 1,
                "delta": {"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": '{"a":1}'}}]},
                "finish_reason": "tool_calls",
            },
        ],
    }
    chunk = wire.read_chunk(data)
    assert chunk.text_chars == len("Hello") + len("hmm") + len('{"a":1}')  # names are not text
    assert chunk.finish_reasons == ("tool_calls",)
    assert (chunk.response_id, chunk.response_model) == ("chatcmpl-1", "gpt-4o-2024-08-06")
    assert chunk.data is data


def test_a_chunk_without_choices_reports_nothing_delivered() -> None:
    chunk = wire.read_chunk({"id": "x", "choices": [], "usage": {"prompt_tokens": 1}})
    assert (chunk.text_chars, chunk.finish_reasons) == (0, ())


def test_built_chunks_carry_the_same_facts_as_read_ones() -> None:
    envelope = wire.chunk_envelope("msg_1", "claude", created=7)
    built = wire.delta_chunk(envelope, {"content": "Hi there"}, wire.STOP)
    read = wire.read_chunk(built.data)
    assert (
        (built.text_chars, built.finish_reasons) == (read.text_chars, read.finish_reasons) == (8, ("stop",))
    )
    assert (built.response_id, built.response_model) == ("msg_1", "claude")
    assert built.data == {
        "id": "msg_1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "claude",
        "choices": [
            {"index": 0, "delta": {"content": "Hi there"}, "logprobs": None, "finish_reason": "stop"}
        ],
    }


def test_the_usage_chunk_follows_openais_convention() -> None:
    usage = Usage(
        input_tokens=10, cache_read_tokens=5, cache_write_tokens=2, output_tokens=3, reasoning_tokens=4
    )
    chunk = wire.usage_chunk(wire.chunk_envelope("r", "m"), usage)
    assert chunk.usage == usage and chunk.data["choices"] == []
    assert chunk.data["usage"] == {
        "prompt_tokens": 17,
        "completion_tokens": 7,
        "total_tokens": 24,
        "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 4},
    }


def test_a_built_completion_reports_id_model_and_finish_reason() -> None:
    message = wire.assistant_message([], [{"id": "t", "type": "function"}], ["thought"])
    completion = wire.completion("msg_1", "claude", message, wire.TOOL_CALLS, Usage(output_tokens=1))
    assert message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "t", "type": "function"}],
        "reasoning_content": "thought",
    }
    assert (completion.response_id, completion.response_model) == ("msg_1", "claude")
    assert completion.finish_reasons == ("tool_calls",)
    assert completion.body["choices"][0]["message"] is message


def test_the_cost_goes_into_a_copy() -> None:
    chunk = {"id": "c", "usage": {"prompt_tokens": 1, "cost": None, "total_tokens": 1}}
    priced = wire.with_usage_cost(chunk, 5)
    assert priced == {"id": "c", "usage": {"prompt_tokens": 1, "cost": 5, "total_tokens": 1}}
    assert chunk["usage"]["cost"] is None
    assert wire.with_usage_cost({"id": "c"}, 5) is None
    assert wire.without_usage(chunk) == {"id": "c"} and "usage" in chunk
