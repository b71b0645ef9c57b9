"""Codex CLI (`codex exec`, the real binary, a custom `model_providers` entry with
`wire_api = "responses"`) completes a tool-using task through the gateway: passed through to an
OpenAI model with the Responses API, and bridged to an Anthropic model."""

from __future__ import annotations

from pathlib import Path

from tests.clients.agents import Clients, codex_env, requires_opt_in, run_codex
from tests.clients.checks import (
    CLAUDE_AGENT_BRIDGED,
    GPT_AGENT_RESPONSES,
    PROMPT,
    assert_ledger,
    assert_task_done,
    assert_upstream_turns,
    upstream_key,
)
from tests.e2e.access_setup import new_key
from tests.fakes.agent_script import FakeAgentUpstream
from tests.gateway_process import GatewayProcess

pytestmark = requires_opt_in


def test_codex_runs_an_exec_command_task_on_an_openai_responses_model(
    clients: Clients,
    agent_gateway: GatewayProcess,
    agent_upstream: FakeAgentUpstream,
    home: Path,
    workdir: Path,
) -> None:
    agent_upstream.reset()
    key = new_key(agent_gateway)
    env = codex_env(home, agent_gateway.url, key["key"], model="gpt-agent")
    run = run_codex(clients.codex, env, workdir, PROMPT)
    assert_task_done(run, workdir, agent_upstream, agent_gateway)
    assert_upstream_turns(agent_upstream, GPT_AGENT_RESPONSES)
    for received in agent_upstream.received:
        # pass-through: Codex's own request (store off, whole history each turn); the key is the gateway's
        assert received.body["store"] is False and received.body["include"] == ["reasoning.encrypted_content"]
        assert upstream_key(received) == "sk-upstream-agent"
    assert_ledger(agent_gateway, key["id"], GPT_AGENT_RESPONSES, len(agent_upstream.received))


def test_codex_runs_an_exec_command_task_on_an_anthropic_model(
    clients: Clients,
    agent_gateway: GatewayProcess,
    agent_upstream: FakeAgentUpstream,
    home: Path,
    workdir: Path,
) -> None:
    agent_upstream.reset()
    key = new_key(agent_gateway)
    env = codex_env(home, agent_gateway.url, key["key"], model="claude-agent")
    run = run_codex(clients.codex, env, workdir, PROMPT)
    assert_task_done(run, workdir, agent_upstream, agent_gateway)
    assert_upstream_turns(agent_upstream, CLAUDE_AGENT_BRIDGED)
    first = agent_upstream.received[0].body
    assert "exec_command" in [t["name"] for t in first["tools"]], first["tools"]
    assert "Codex CLI" in str(first.get("system")), "the developer messages become Anthropic's system prompt"
    assert upstream_key(agent_upstream.received[-1]) == "sk-ant-upstream-agent"
    assert_ledger(agent_gateway, key["id"], CLAUDE_AGENT_BRIDGED, len(agent_upstream.received))
