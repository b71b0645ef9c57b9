"""`/v1/responses` through the real gateway with the official `openai` SDK: bridged to OpenAI
chat, Anthropic and Gemini, passed through to a Responses server, and its stored state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.e2e.access_setup import ADMIN
from tests.e2e.responses_setup import CODEX_BODY, fake_responses, responses_world  # noqa: F401
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_responses_upstream import FakeResponses
from tests.fakes.openai_responses_upstream import _events as responses_events
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import TOOL_NAME, Behaviour
from tests.gateway_process import GatewayProcess


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    responses_world: tuple[str, dict[str, str]],  # noqa: F811
) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("responses")
    process = GatewayProcess(workdir, responses_world[0], env=responses_world[1]).start()
    yield process
    process.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="client-key", max_retries=0, timeout=10)


@pytest.fixture(autouse=True)
def fresh_fakes(
    fake_responses: FakeResponses,  # noqa: F811
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> None:
    for fake in (fake_responses, fake_openai, fake_anthropic, fake_gemini):
        fake.reset()


def _events(gateway: GatewayProcess, body: dict[str, Any]) -> tuple[bytes, list[dict[str, Any]]]:
    raw = httpx.post(gateway.url + "/v1/responses", json=body, timeout=10)
    assert raw.status_code == 200, raw.text
    frames = [frame for frame in raw.content.split(b"\n\n") if frame]
    return raw.content, [orjson.loads(frame.split(b"data: ", 1)[1]) for frame in frames]


# --- bridged ---------------------------------------------------------------------------


def test_string_input_bridged_to_openai_chat_is_a_priced_response(
    client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    response = client.responses.create(
        model="gpt-chat",
        input="hi",
        instructions="Be brief",
        max_output_tokens=50,
        temperature=0.3,
        metadata={"feature": "search"},
    )
    assert response.output_text == "Hello from the fake upstream"
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.instructions == "Be brief" and response.metadata == {"feature": "search"}
    sent = fake_openai.last.body
    assert sent["model"] == "gpt-4o-upstream" and sent["max_completion_tokens"] == 50
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
    ]
    assert "metadata" not in sent and sent["temperature"] == 0.3
    usage = response.usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (12, 6, 18)
    cost = (12 * Decimal("2.50") + 6 * Decimal("10.00")) / 1_000_000
    assert Decimal(str(usage.model_extra["cost"])) == cost


def test_stream_bridged_to_openai_chat_follows_the_event_grammar(
    client: openai.OpenAI, gateway: GatewayProcess
) -> None:
    with client.responses.stream(model="gpt-chat", input="hi") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Hello from the fake upstream"
    assert final.usage is not None and final.usage.output_tokens == 6
    _, events = _events(gateway, {"model": "gpt-chat", "input": "hi", "stream": True})
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1
    assert len({e["item_id"] for e in events if "item_id" in e}) == 1


def test_a_function_call_loop_bridged_to_anthropic(
    client: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    tools: Any = [
        {
            "type": "function",
            "name": TOOL_NAME,
            "description": "Weather",
            "strict": True,
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    fake_anthropic.script(Behaviour(tool_call=True, finish="tool_calls"), Behaviour(text="Sunny in Paris"))
    first = client.responses.create(model="claude-test", input="Weather in Paris?", tools=tools, store=False)
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == TOOL_NAME and orjson.loads(call.arguments) == {"city": "Paris"}
    assert fake_anthropic.last.body["tools"][0]["name"] == TOOL_NAME
    follow_up: Any = [
        {"role": "user", "content": "Weather in Paris?"},
        call.model_dump(),
        {"type": "function_call_output", "call_id": call.call_id, "output": "22C, sunny"},
    ]
    with client.responses.stream(model="claude-test", input=follow_up, tools=tools, store=False) as stream:
        assert stream.get_final_response().output_text == "Sunny in Paris"
    turns = [turn.text for turn in fake_anthropic.turns()]
    assert turns[1].startswith(f"call {TOOL_NAME}(") and "22C, sunny" in turns[2]


def test_json_schema_and_reasoning_effort_are_translated(
    client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    client.responses.create(
        model="gpt-chat",
        input="json please",
        reasoning={"effort": "high"},
        text={"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}},
    )
    sent = fake_openai.last.body
    assert sent["reasoning_effort"] == "high"
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }


def test_a_length_cut_is_an_incomplete_response(
    client: openai.OpenAI, fake_openai: FakeOpenAI, gateway: GatewayProcess
) -> None:
    fake_openai.script(Behaviour(finish="length"))
    whole = client.responses.create(model="gpt-chat", input="hi", max_output_tokens=5)
    assert whole.status == "incomplete" and whole.incomplete_details is not None
    assert whole.incomplete_details.reason == "max_output_tokens"
    fake_openai.script(Behaviour(finish="length"))
    _, events = _events(gateway, {"model": "gpt-chat", "input": "hi", "stream": True, "max_output_tokens": 5})
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_streams_bridged_to_gemini_and_anthropic_complete(client: openai.OpenAI) -> None:
    for model in ("gemini-test", "claude-test"):
        with client.responses.stream(model=model, input="hi") as stream:
            final = stream.get_final_response()
        assert final.output_text == "Hello from the fake upstream", model
        assert final.usage is not None and final.usage.input_tokens > 0


def test_thinking_comes_back_as_a_reasoning_item(
    client: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(Behaviour(reasoning="Let me think"), Behaviour(reasoning="Let me think"))
    whole = client.responses.create(model="claude-test", input="hi", reasoning={"effort": "low"})
    assert [item.type for item in whole.output] == ["reasoning", "message"]
    reasoning = whole.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Let me think"
    with client.responses.stream(model="claude-test", input="hi", reasoning={"effort": "low"}) as stream:
        summary = "".join(e.delta for e in stream if e.type == "response.reasoning_summary_text.delta")
        final = stream.get_final_response()
    assert summary == "Let me think" and [item.type for item in final.output] == ["reasoning", "message"]


def test_an_upstream_failing_mid_stream_fails_the_response(
    client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Behaviour(cut_after_chunks=3))
    events = list(client.responses.create(model="gpt-chat", input="hi", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.id == events[0].response.id  # type: ignore[union-attr]
    assert events[-1].response.error is not None  # type: ignore[union-attr]


def test_what_chat_cannot_express_is_refused_only_where_it_must_be_translated(
    client: openai.OpenAI,
    fake_responses: FakeResponses,  # noqa: F811
) -> None:
    tools: Any = [{"type": "file_search", "vector_store_ids": ["vs_1"]}]
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="claude-test", input="hi", tools=tools)
    assert refused.value.body["code"] == "unsupported_feature"  # type: ignore[index]
    assert refused.value.body["param"] == "tools[0].type"  # type: ignore[index]
    client.responses.create(model="gpt-5", input="hi", tools=tools)
    assert fake_responses.last.body["tools"] == tools


# --- Codex ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-test", "gpt-chat"])
def test_a_codex_turn_is_bridged_not_refused(
    model: str, gateway: GatewayProcess, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    body = {**CODEX_BODY, "model": model}
    body["input"] = [
        *CODEX_BODY["input"],  # type: ignore[misc]
        {"type": "reasoning", "id": "rs_0", "summary": [], "encrypted_content": "blob"},
    ]
    _, events = _events(gateway, body)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][-1]["content"][0]["text"] == "Hello from the fake upstream"
    fake = fake_anthropic if model == "claude-test" else fake_openai
    sent = fake.last.body
    names = [t.get("name") or t["function"]["name"] for t in sent["tools"]]
    assert names == ["exec_command", "write_stdin", "apply_patch"]  # web_search left out
    assert "You are Codex" in fake.system_prompt() and "<permissions>" in fake.system_prompt()
    assert "prompt_cache_key" not in sent and "client_metadata" not in sent


def test_a_codex_custom_tool_call_comes_back_as_a_custom_tool_call(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    answer = {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-upstream",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "apply_patch", "arguments": '{"input": "*** Begin Patch"}'},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    fake_openai.script(Behaviour(answer=answer))
    response = httpx.post(
        gateway.url + "/v1/responses", json={**CODEX_BODY, "model": "gpt-chat", "stream": False}
    )
    item = response.json()["output"][0]
    assert (item["type"], item["name"], item["input"], item["call_id"]) == (
        "custom_tool_call",
        "apply_patch",
        "*** Begin Patch",
        "call_9",
    )


# --- pass-through ----------------------------------------------------------------------


def test_a_pass_through_stream_reaches_the_client_byte_for_byte_its_usage_priced(
    gateway: GatewayProcess,
    fake_responses: FakeResponses,  # noqa: F811
) -> None:
    body = {"model": "gpt-5", "input": "hi", "stream": True, "vendor_field": {"x": 1}}
    raw, events = _events(gateway, body)
    sent = fake_responses.last.body
    assert sent == {**body, "model": "gpt-5-upstream"}
    *frames, terminal = list(responses_events(sent, Behaviour()))
    assert raw.startswith(b"".join(frames))  # every event before the terminal one unchanged
    completed = orjson.loads(terminal.split(b"data: ", 1)[1])
    # the fake's usage: 15 uncached + 5 cached input, 6 output + 3 reasoning
    cost = (15 * Decimal("1.25") + 5 * Decimal("0.125") + 9 * Decimal("10.00")) / 1_000_000
    assert Decimal(str(events[-1]["response"]["usage"].pop("cost"))) == cost
    assert events[-1] == completed


def test_a_pass_through_is_priced_from_the_upstream_usage(
    client: openai.OpenAI, gateway: GatewayProcess
) -> None:
    response = client.responses.create(model="gpt-5", input="hi")
    assert response.id == "resp_fake_1" and response.output_text == "Hello from the fake upstream"
    # 15 uncached + 5 cached input, 6 output + 3 reasoning
    cost = (15 * Decimal("1.25") + 5 * Decimal("0.125") + 9 * Decimal("10.00")) / 1_000_000
    assert response.usage is not None and Decimal(str(response.usage.model_extra["cost"])) == cost
    with client.responses.stream(model="gpt-5", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Hello from the fake upstream"
    assert final.usage is not None and Decimal(str(final.usage.model_extra["cost"])) == cost
    time.sleep(1.0)  # the ledger's batch
    records = httpx.get(gateway.url + "/admin/requests?model=gpt-5", headers=ADMIN).json()["data"]
    assert {r["route"] for r in records} == {"responses"}
    assert {Decimal(r["cost_usd"]) for r in records} == {cost}


def test_a_client_leaving_a_stream_closes_the_upstream_and_the_usage_is_settled(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Behaviour(endless=True, chunk_delay=0.02))
    body = {"model": "gpt-chat", "input": "leaving soon", "stream": True, "metadata": {"case": "leave"}}
    with httpx.stream("POST", gateway.url + "/v1/responses", json=body, timeout=10) as answer:
        lines = answer.iter_lines()
        assert sum(1 for _, line in zip(range(20), lines, strict=False) if line.startswith("data:")) >= 5
    deadline = time.monotonic() + 5
    while not fake_openai.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_openai.disconnects
    time.sleep(1.0)
    records = httpx.get(gateway.url + "/admin/requests?model=gpt-chat&status=499", headers=ADMIN).json()[
        "data"
    ]
    assert records and records[0]["route"] == "responses" and Decimal(records[0]["cost_usd"]) > 0


def test_a_pass_through_cut_mid_stream_ends_with_an_error_event_in_sequence(
    gateway: GatewayProcess,
    fake_responses: FakeResponses,  # noqa: F811
) -> None:
    fake_responses.script(Behaviour(cut_after_chunks=4))
    _, events = _events(gateway, {"model": "gpt-5", "input": "hi", "stream": True})
    assert [e["type"] for e in events[:4]] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert events[-1]["type"] == "error" and events[-1]["sequence_number"] == 4
    assert events[-1]["code"] == "upstream_unavailable"
