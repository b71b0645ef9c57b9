"""The requests Claude Code and Codex really send (recorded by tests/clients/record.py), replayed
through the gateway turn by turn to each kind of model: every CI run checks that the clients'
exact bodies and headers are accepted and answered in their dialect, without the 0.8 GB clients."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import httpx
import pytest

from tests.clients.checks import (
    CLAUDE_AGENT,
    CLAUDE_AGENT_BRIDGED,
    GPT_AGENT_CHAT,
    GPT_AGENT_RESPONSES,
    TASK,
    Target,
    assert_ledger,
)
from tests.clients.record import load
from tests.e2e.access_setup import new_key
from tests.fakes.agent_script import FakeAgentUpstream
from tests.gateway_process import GatewayProcess


def _dialect_served(module: str) -> pytest.MarkDecorator:
    """Until the dialect's handler exists on this branch there is nothing to replay against."""
    missing = importlib.util.find_spec(f"calcifer.http.api.{module}") is None
    return pytest.mark.skipif(missing, reason=f"calcifer.http.api.{module} is not on this branch")


@_dialect_served("anthropic_messages")
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
@pytest.mark.parametrize("target", [CLAUDE_AGENT, GPT_AGENT_CHAT], ids=["anthropic", "openai-chat"])
def test_claude_codes_requests_are_answered_in_anthropics_grammar(
    agent_gateway: GatewayProcess, agent_upstream: FakeAgentUpstream, target: Target, stream: bool
) -> None:
    """Claude Code streams, and resends the same body with `stream: false` when a stream fails."""
    agent_upstream.reset()
    key = new_key(agent_gateway)
    turns = load("claude-code")
    for number, recorded in enumerate(turns):
        recorded["body"]["stream"] = stream
        answer = _replay(agent_gateway, recorded, target, {"x-api-key": key["key"]})
        _assert_turn(_anthropic_step(answer.text, stream), number == len(turns) - 1, "Bash")
    _assert_upstream(agent_upstream, target, len(turns))
    assert_ledger(agent_gateway, key["id"], target, len(turns))


@_dialect_served("openai_responses")
@pytest.mark.parametrize("target", [GPT_AGENT_RESPONSES, CLAUDE_AGENT_BRIDGED], ids=["openai", "anthropic"])
def test_codexs_requests_are_answered_in_the_responses_grammar(
    agent_gateway: GatewayProcess, agent_upstream: FakeAgentUpstream, target: Target
) -> None:
    agent_upstream.reset()
    key = new_key(agent_gateway)
    turns = load("codex")
    for number, recorded in enumerate(turns):
        answer = _replay(agent_gateway, recorded, target, {"Authorization": f"Bearer {key['key']}"})
        _assert_turn(_responses_step(answer.text), number == len(turns) - 1, "exec_command")
    _assert_upstream(agent_upstream, target, len(turns))
    assert_ledger(agent_gateway, key["id"], target, len(turns))


def _replay(
    gateway: GatewayProcess, recorded: dict[str, Any], target: Target, auth: dict[str, str]
) -> httpx.Response:
    body = {**recorded["body"], "model": target.served_model}
    headers = {**recorded["headers"], **auth}
    url = gateway.url + recorded["path"]
    answer = httpx.post(url, params=recorded["query"], json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, f"{recorded['path']} → {answer.status_code} {answer.text[:2000]}"
    return answer


def _assert_turn(step: tuple[str | None, str], last: bool, shell_tool: str) -> None:
    """Turn 1: the shell tool with the task's command; the last turn: the final text."""
    tool, said = step
    if last:
        assert (tool, said) == (None, TASK.final_text)
    else:
        assert tool == shell_tool and TASK.command in json.loads(said).values(), step


def _assert_upstream(upstream: FakeAgentUpstream, target: Target, turns: int) -> None:
    seen = [(r.path, r.body.get("model")) for r in upstream.received]
    assert seen == [(target.upstream_path, target.upstream_model)] * turns
    assert "calcifer-e2e" in upstream.tool_results[-1]


def _events(text: str) -> list[tuple[str | None, dict[str, Any]]]:
    events = []
    for frame in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if "data" in fields and fields["data"] != "[DONE]":
            events.append((fields.get("event"), json.loads(fields["data"])))
    return events


def _anthropic_step(text: str, stream: bool) -> tuple[str | None, str]:
    """(tool name or None, the tool's input as JSON text or the answer's text), as the SDK
    would assemble them."""
    if not stream:
        [block] = [b for b in json.loads(text)["content"] if b["type"] != "thinking"]
        if block["type"] == "tool_use":
            return block["name"], json.dumps(block["input"])
        return None, str(block["text"])
    events = _events(text)
    assert events[0][0] == "message_start" and events[-1][0] == "message_stop", [e for e, _ in events]
    tool, pieces = None, []
    for event, data in events:
        assert event == data["type"], (event, data)
        if event == "content_block_start" and data["content_block"]["type"] == "tool_use":
            tool = data["content_block"]["name"]
        if event == "content_block_delta":
            pieces.append(data["delta"].get("partial_json") or data["delta"].get("text") or "")
    return tool, "".join(pieces)


def _responses_step(text: str) -> tuple[str | None, str]:
    events = _events(text)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert events[-1][0] == "response.completed", [e for e, _ in events]
    [item] = events[-1][1]["response"]["output"]
    if item["type"] == "function_call":
        return item["name"], item["arguments"]
    return None, "".join(part["text"] for part in item["content"])
