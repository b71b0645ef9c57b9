"""Claude Code (`claude -p`, the real binary) completes a tool-using task through the gateway:
passed through to an Anthropic model, and translated to an OpenAI chat model."""

from __future__ import annotations

from pathlib import Path

from tests.clients.agents import Clients, claude_code_env, requires_opt_in, run_claude_code
from tests.clients.checks import (
    CLAUDE_AGENT,
    GPT_AGENT_CHAT,
    PROMPT,
    assert_ledger,
    assert_task_done,
    assert_upstream_turns,
    headers_of,
    upstream_key,
)
from tests.e2e.access_setup import new_key
from tests.fakes.agent_script import FakeAgentUpstream
from tests.fakes.agent_wire import SIGNATURE, THINKING
from tests.gateway_process import GatewayProcess

pytestmark = requires_opt_in


def test_claude_code_on_its_default_model_name_runs_a_bash_task_on_the_anthropic_model(
    clients: Clients,
    agent_gateway: GatewayProcess,
    agent_upstream: FakeAgentUpstream,
    home: Path,
    workdir: Path,
) -> None:
    agent_upstream.reset()
    key = new_key(agent_gateway)
    env = claude_code_env(home, agent_gateway.url, key["key"], model=None)
    run = run_claude_code(clients.claude, env, workdir, PROMPT)
    assert_task_done(run, workdir, agent_upstream, agent_gateway)
    assert_upstream_turns(agent_upstream, CLAUDE_AGENT)
    for received in agent_upstream.received:
        # pass-through: Claude Code's own betas, version and query reach Anthropic; the key is the gateway's
        headers = headers_of(received)
        assert "claude-code-20250219" in headers["anthropic-beta"].split(","), headers
        assert headers["anthropic-version"] == "2023-06-01", headers
        assert upstream_key(received) == "sk-ant-upstream-agent"
        assert received.query == {"beta": "true"}
    # the thinking block came back to Anthropic with its signature (the fake refuses it otherwise)
    returned = [m for m in agent_upstream.received[-1].body["messages"] if m["role"] == "assistant"]
    assert returned[-1]["content"][0] == {"type": "thinking", "thinking": THINKING, "signature": SIGNATURE}
    assert_ledger(agent_gateway, key["id"], CLAUDE_AGENT, len(agent_upstream.received))


def test_claude_code_runs_a_bash_task_on_an_openai_chat_model(
    clients: Clients,
    agent_gateway: GatewayProcess,
    agent_upstream: FakeAgentUpstream,
    home: Path,
    workdir: Path,
) -> None:
    agent_upstream.reset()
    key = new_key(agent_gateway)
    env = claude_code_env(home, agent_gateway.url, key["key"], model="gpt-agent")
    run = run_claude_code(clients.claude, env, workdir, PROMPT)
    assert_task_done(run, workdir, agent_upstream, agent_gateway)
    assert_upstream_turns(agent_upstream, GPT_AGENT_CHAT)
    tools = [t["function"]["name"] for t in agent_upstream.received[0].body["tools"]]
    assert "Bash" in tools, tools
    assert upstream_key(agent_upstream.received[-1]) == "sk-upstream-agent"
    assert_ledger(agent_gateway, key["id"], GPT_AGENT_CHAT, len(agent_upstream.received))
