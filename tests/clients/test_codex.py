"""Codex CLI (`codex exec`, the real binary, a custom `model_providers` entry with
`wire_api = "responses"`) completes a tool-using task through the gateway: passed through to an
OpenAI model with the Responses API, and bridged to an Anthropic model."""

from __future__ import annotations

from tests.clients.agents import requires_opt_in
from tests.clients.checks import CLAUDE_AGENT_BRIDGED, GPT_AGENT_RESPONSES, Workbench, upstream_key

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


def test_codex_with_reasoning_on_an_anthropic_model_thinks_and_finishes_its_tool_loop(
    workbench: Workbench,
) -> None:
    """With a reasoning effort the bridge turns thinking on. Anthropic wants a thinking block back,
    signature intact, before the tool call it came with (the fake refuses the turn otherwise, as
    Anthropic does), and the canonical chat shape cannot carry a signature: the step that
    continues the tool loop goes without thinking, so the loop finishes (docs/providers.md).
    Carrying the block in the reasoning item's `encrypted_content` is not built yet."""
    workbench.codex(model="claude-agent", target=CLAUDE_AGENT_BRIDGED, reasoning_effort="high")
    first, last = workbench.upstream.received[0].body, workbench.upstream.received[-1].body
    assert first["thinking"]["type"] in ("enabled", "adaptive"), first.get("thinking")
    assert "thinking" not in last
    assert last["messages"][-1]["content"][0]["type"] == "tool_result"
