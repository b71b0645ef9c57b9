"""Codex CLI (`codex exec`, the real binary, a custom `model_providers` entry with
`wire_api = "responses"`) completes a tool-using task through the gateway: passed through to an
OpenAI model with the Responses API, and bridged to an Anthropic model."""

from __future__ import annotations

from tests.clients.agents import requires_opt_in
from tests.clients.checks import CLAUDE_AGENT_BRIDGED, GPT_AGENT_RESPONSES, Workbench, upstream_key
from tests.fakes.agent_wire import SIGNATURE

pytestmark = requires_opt_in


def test_codex_runs_an_exec_command_task_on_an_openai_responses_model(workbench: Workbench) -> None:
    workbench.codex(model="gpt-agent", target=GPT_AGENT_RESPONSES)
    for request in workbench.upstream.received:
        # pass-through: Codex's own request (store off, whole history each turn); the key is the gateway's
        assert request.body["store"] is False and request.body["include"] == ["reasoning.encrypted_content"]
        assert upstream_key(request) == "sk-upstream-agent"


def test_codex_runs_an_exec_command_task_on_an_anthropic_model(workbench: Workbench) -> None:
    workbench.codex(model="claude-agent", target=CLAUDE_AGENT_BRIDGED)
    received = workbench.upstream.received
    first = received[0].body
    assert "exec_command" in [t["name"] for t in first["tools"]], first["tools"]
    assert "Codex CLI" in str(first.get("system")), "the developer messages become Anthropic's system prompt"
    assert upstream_key(received[-1]) == "sk-ant-upstream-agent"


def test_codex_with_reasoning_on_an_anthropic_model_hands_the_signed_thinking_back(
    workbench: Workbench,
) -> None:
    """With a reasoning effort the bridge turns thinking on; Anthropic then wants each thinking
    block back, signature intact, before the tool call it came with (the fake refuses the turn
    otherwise, as Anthropic does). Codex keeps nothing itself (`store: false`): the block must
    travel in the reasoning item's `encrypted_content`, which Codex always asks for."""
    workbench.codex(model="claude-agent", target=CLAUDE_AGENT_BRIDGED, reasoning_effort="high")
    first, last = workbench.upstream.received[0].body, workbench.upstream.received[-1].body
    assert first["thinking"]["type"] in ("enabled", "adaptive"), first.get("thinking")
    assert last["messages"][-2]["content"][0]["signature"] == SIGNATURE
