"""The real clients' world: the pinned binaries, one fake upstream playing the agent in every
wire format, and the gateway (keys required, ledger on SQLite) with a model per vendor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.agents import Clients, install_clients
from tests.clients.checks import TASK, Workbench
from tests.e2e.access_setup import MASTER
from tests.fakes.agent_script import FakeAgentUpstream
from tests.gateway_process import GatewayProcess


def agent_catalog(upstream_url: str) -> str:
    """`claude-opus-5-5` (Claude Code's default model name) is an alias of the Anthropic model."""
    return f"""
prices_as_of: "2026-12-01"
providers:
  anthropic:
    kind: anthropic
    api_key_env: FAKE_ANTHROPIC_KEY
    base_url: {upstream_url}
    timeout: 30
    max_retries: 0
  openai:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {upstream_url}/v1
    timeout: 30
    max_retries: 0
models:
  claude-agent:
    provider: anthropic
    upstream_model: claude-agent-upstream
    aliases: [claude-opus-5-5]
    pricing: {{input: 5.00, output: 25.00}}
  gpt-agent:
    provider: openai
    upstream_model: gpt-agent-upstream
    pricing: {{input: 1.25, output: 10.00}}
"""


@pytest.fixture(scope="session")
def clients() -> Clients:
    return install_clients()


@pytest.fixture(scope="session")
def agent_upstream() -> Iterator[FakeAgentUpstream]:
    fake = FakeAgentUpstream(TASK)
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture(scope="session")
def agent_gateway(
    tmp_path_factory: pytest.TempPathFactory, agent_upstream: FakeAgentUpstream
) -> Iterator[GatewayProcess]:
    env = {"CALCIFER_MASTER_KEY": MASTER, "FAKE_ANTHROPIC_KEY": "sk-ant-upstream-agent",
           "FAKE_OPENAI_KEY": "sk-upstream-agent"}  # fmt: skip
    workdir = tmp_path_factory.mktemp("clients-gateway")
    gateway = GatewayProcess(workdir, agent_catalog(agent_upstream.server.url), env=env, auth_required=True)
    _allow_agent_sized_bodies(gateway)
    gateway.start()
    yield gateway
    gateway.stop()


def _allow_agent_sized_bodies(gateway: GatewayProcess) -> None:
    """A coding agent's first request is ~50 KB (system prompt, a dozen tool schemas) and grows
    with every turn: give the test gateway the shipped 10 MiB limit instead of the tests' 64 KB."""
    config = gateway.workdir / "config.yaml"
    config.write_text(
        config.read_text().replace("max_request_body_bytes: 65536", "max_request_body_bytes: 10485760")
    )


@pytest.fixture
def workbench(
    clients: Clients, agent_gateway: GatewayProcess, agent_upstream: FakeAgentUpstream, tmp_path: Path
) -> Workbench:
    agent_upstream.reset()
    home, workdir = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    return Workbench(clients, agent_gateway, agent_upstream, home, workdir)
