"""The Responses dialect's translation: requests into the canonical chat body, canonical
chunks into the event grammar (checked by the `openai` SDK's own stream accumulator)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import orjson
import pytest
from openai import omit
from openai._models import construct_type
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent

from calcifer.errors import InvalidRequest
from calcifer.formats import openai_responses_output as out
from calcifer.formats.openai_responses import parse_responses_request
from calcifer.formats.openai_responses_events import ResponseEvents
from calcifer.http.jsonio import dumps
from tests.e2e.responses_setup import CODEX_BODY


def test_a_codex_turn_translates_without_refusals() -> None:
    body = copy.deepcopy(CODEX_BODY)
    body["input"].append({"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"})  # type: ignore[attr-defined]
    # Codex 0.171 groups its sub-agent tools under an OpenAI-only `namespace` tool on every turn.
    body["tools"].append(  # type: ignore[attr-defined]
        {"type": "namespace", "name": "multi_agent_v1", "description": "d",
         "tools": [{"type": "function", "name": "close_agent", "parameters": {"type": "object"}}]}
    )  # fmt: skip
    chat = parse_responses_request(body, None)
    assert chat.untranslatable == ()
    canonical = chat.body
    assert canonical["messages"][0] == {"role": "system", "content": "You are Codex, a coding agent."}
    assert [m["role"] for m in canonical["messages"][1:]] == ["developer", "user", "developer", "user"]
    assert [t["function"]["name"] for t in canonical["tools"]] == [
        "exec_command",
        "write_stdin",
        "apply_patch",
    ]
    assert canonical["tools"][2]["function"]["parameters"]["required"] == ["input"]
    assert set(canonical) == {"model", "messages", "tools", "tool_choice", "parallel_tool_calls", "stream"}
    assert chat.native is not None and chat.native.body is body


def test_fed_back_output_items_become_one_assistant_turn_and_its_tool_results() -> None:
    items = [
        {"role": "user", "content": "weather?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {
            "type": "custom_tool_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "ok"}],
        },
    ]
    messages = parse_responses_request({"model": "m", "input": items}, None).body["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "c2",
                "type": "function",
                "function": {"name": "apply_patch", "arguments": '{"input":"*** Begin"}'},
            },
        ],
    }
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "ok"},
    ]


def test_what_chat_cannot_express_is_named_not_raised() -> None:
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": [{"type": "input_file", "file_id": "f1"}]},
            {"type": "item_reference", "id": "msg_1"},
        ],
        "background": True,
        "prompt": {"id": "pmpt_1"},
    }
    refused = [u.param for u in parse_responses_request(body, None).untranslatable]
    assert refused == ["input[0].content[0].type", "input[1].type", "background", "prompt"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "m", "input": 3}, "input"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": []}, "input"),
    ],
)
def test_malformed_requests_are_invalid_whatever_the_provider(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_responses_request(body, None)
    assert caught.value.param == param


def test_a_continued_conversation_sends_the_whole_input_upstream_without_our_id() -> None:
    history = [
        {"role": "user", "content": "one"},
        out.reasoning_item("rs_1", "hmm"),
        out.message_item("msg_1", "answer"),
    ]
    chat = parse_responses_request(
        {"model": "m", "input": "two", "previous_response_id": "resp_1"}, None, history
    )
    assert chat.native is not None and "previous_response_id" not in chat.native.body
    assert [item.get("role") for item in chat.native.body["input"]] == ["user", "assistant", "user"]
    assert not any("id" in item for item in chat.native.body["input"])  # ours mean nothing upstream
    assert [m["role"] for m in chat.body["messages"]] == ["user", "assistant", "user"]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _accumulated(frames: bytes, tools: list[Any]) -> Any:
    state: ResponseStreamState[object] = ResponseStreamState(input_tools=tools, text_format=omit)
    final = None
    for frame in frames.split(b"\n\n"):
        if frame:
            payload = orjson.loads(frame.split(b"data: ", 1)[1])
            for event in state.handle_event(construct_type(type_=ResponseStreamEvent, value=payload)):
                if event.type == "response.completed":
                    final = event.response
    return final


def test_reasoning_text_and_calls_follow_the_grammar_the_sdk_accumulates() -> None:
    tools: Any = [
        {"type": "function", "name": "get_weather", "parameters": {}},
        {"type": "custom", "name": "apply_patch"},
    ]
    request = {"model": "m", "tools": tools}
    events = ResponseEvents(out.response_object("resp_1", "m", request), frozenset({"apply_patch"}), dumps)
    frames = events.start()
    for delta in (
        {"reasoning_content": "Hmm"},
        {"content": "Let "},
        {"content": "me check."},
        {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {
            "tool_calls": [
                {"index": 1, "id": "c2", "function": {"name": "apply_patch", "arguments": '{"input":"P"}'}}
            ]
        },
    ):
        frames += events.feed(_chunk(delta))
    frames += events.feed(_chunk({}, "tool_calls"))
    usage = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7, "cost": Decimal("0.01")}
    frames += events.finish(usage) + events.terminal()
    final = _accumulated(frames, tools)
    assert [item.type for item in final.output] == [
        "reasoning",
        "message",
        "function_call",
        "custom_tool_call",
    ]
    assert final.output[1].content[0].text == "Let me check."
    assert final.output[2].arguments == '{"city":"Paris"}' and final.output[3].input == "P"
    numbers = [orjson.loads(f.split(b"data: ", 1)[1])["sequence_number"] for f in frames.split(b"\n\n") if f]
    assert numbers == list(range(len(numbers)))


def test_a_length_cut_ends_incomplete_and_a_failure_ends_failed_under_the_same_id() -> None:
    events = ResponseEvents(out.response_object("resp_1", "m", {}), frozenset(), dumps)
    events.feed(_chunk({"content": "partial"}, "length"))
    events.finish({})
    assert b"event: response.incomplete" in events.terminal()
    assert events.response["incomplete_details"] == {"reason": "max_output_tokens"}
    failing = ResponseEvents(out.response_object("resp_2", "m", {}), frozenset(), dumps)
    frames = failing.failed({"message": "upstream gone", "type": "upstream_error"})
    kinds = [orjson.loads(f.split(b"data: ", 1)[1]) for f in frames.split(b"\n\n") if f]
    assert [k["type"] for k in kinds] == ["response.created", "response.in_progress", "response.failed"]
    assert (
        kinds[-1]["response"]["id"] == "resp_2" and kinds[-1]["response"]["error"]["code"] == "server_error"
    )


def test_tool_settings_go_only_with_tools() -> None:
    body = {"model": "m", "input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "auto",
            "parallel_tool_calls": True}  # fmt: skip
    assert set(parse_responses_request(body, None).body) == {"model", "messages"}
