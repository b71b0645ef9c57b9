"""Claude Code (`claude -p`, the real binary) completes a tool-using task through the gateway:
passed through to an Anthropic model, and translated to an OpenAI chat model."""

from __future__ import annotations

import pytest

from tests.clients.agents import requires_opt_in
from tests.clients.checks import (
    CLAUDE_AGENT,
    GPT_AGENT_CHAT,
    Target,
    Workbench,
    assert_task_done,
    headers_of,
    upstream_key,
)
from tests.e2e.access_setup import new_key
from tests.fakes.agent_wire import SIGNATURE, THINKING

pytestmark = requires_opt_in


def test_claude_code_on_its_default_model_name_runs_a_bash_task_on_the_anthropic_model(
    workbench: Workbench,
) -> None:
    workbench.claude_code(model=None, target=CLAUDE_AGENT)
    received = workbench.upstream.received
    for request in received:
        # pass-through: Claude Code's own betas, version and query reach Anthropic; the key is the gateway's
        headers = headers_of(request)
        assert "claude-code-20250219" in headers["anthropic-beta"].split(","), headers
        assert headers["anthropic-version"] == "2023-06-01", headers
        assert upstream_key(request) == "sk-ant-upstream-agent"
        assert request.query == {"beta": "true"}
    # the thinking block came back to Anthropic with its signature (the fake refuses it otherwise)
    returned = [m for m in received[-1].body["messages"] if m["role"] == "assistant"]
    assert returned[-1]["content"][0] == {"type": "thinking", "thinking": THINKING, "signature": SIGNATURE}


def test_claude_code_runs_a_bash_task_on_an_openai_chat_model(workbench: Workbench) -> None:
    workbench.claude_code(model="gpt-agent", target=GPT_AGENT_CHAT)
    received = workbench.upstream.received
    tools = [t["function"]["name"] for t in received[0].body["tools"]]
    assert "Bash" in tools, tools
    assert upstream_key(received[-1]) == "sk-upstream-agent"


@pytest.mark.parametrize("target", [CLAUDE_AGENT, GPT_AGENT_CHAT], ids=["anthropic", "openai-chat"])
def test_claude_code_gets_over_a_stream_the_provider_dropped(workbench: Workbench, target: Target) -> None:
    """The gateway ends the broken stream with an Anthropic `overloaded_error` event, which
    Claude Code retries (streamed again, or not streamed), and the task still gets done."""
    workbench.upstream.streams_to_drop = 1
    before = len(workbench.gateway_answers("/v1/messages"))
    run = workbench.run("claude-code", new_key(workbench.gateway)["key"], target.served_model)
    assert_task_done(run, workbench.workdir, workbench.upstream, workbench.gateway)
    answers = workbench.gateway_answers("/v1/messages")[before:]
    assert answers == [(200, "upstream_unavailable"), (200, None), (200, None)], answers
    assert len(workbench.upstream.received) == 3
