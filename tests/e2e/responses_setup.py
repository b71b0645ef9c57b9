"""What the Responses API tests share: a catalog with one model per way of serving the
dialect (pass-through to a Responses server, bridged to OpenAI chat, Anthropic, Gemini)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import UPSTREAM_KEY
from tests.e2e.access_setup import MASTER
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_responses_upstream import FakeResponses
from tests.fakes.openai_upstream import FakeOpenAI

CODEX_BODY = {
    "model": "M",
    "instructions": "You are Codex, a coding agent.",
    "input": [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "<permissions>"}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "<environment_context>"}],
        },
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "<collaboration>"}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "say hi"}]},
    ],
    "tools": [
        {
            "type": "function",
            "name": "exec_command",
            "description": "Run a command",
            "strict": False,
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
        },
        {
            "type": "function",
            "name": "write_stdin",
            "description": "Write",
            "strict": False,
            "parameters": {"type": "object", "properties": {"chars": {"type": "string"}}},
        },
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Apply a patch",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
        },
        {"type": "web_search", "external_web_access": False},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "reasoning": {"summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "019a-session",
    "client_metadata": {"originator": "codex_exec"},
}
"""The body Codex 0.171.0 sent for `codex exec "say hi"` (research notes §2.2), shortened."""


def responses_catalog(responses_url: str, openai_url: str, anthropic_url: str, gemini_url: str) -> str:
    common = (
        "timeout: 2\n    max_retries: 0\n    circuit_breaker: {consecutive_failures: 1000, min_calls: 1000}"
    )
    return f"""
prices_as_of: "2025-11-01"
providers:
  openai-responses:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {responses_url}
    {common}
  openai-chat:
    kind: openai
    responses_api: false
    api_key_env: FAKE_OPENAI_KEY
    base_url: {openai_url}
    {common}
  anthropic:
    kind: anthropic
    api_key_env: FAKE_ANTHROPIC_KEY
    base_url: {anthropic_url}
    {common}
  google:
    kind: google
    api_key_env: FAKE_GEMINI_KEY
    base_url: {gemini_url}
    api_version: v1beta
    {common}
models:
  gpt-5:
    provider: openai-responses
    upstream_model: gpt-5-upstream
    pricing: {{input: 1.25, cached_input: 0.125, output: 10.00, tool_calls: {{web_search: 10.00}}}}
  gpt-chat:
    provider: openai-chat
    upstream_model: gpt-4o-upstream
    pricing: {{input: 2.50, cached_input: 1.25, output: 10.00}}
  claude-test:
    provider: anthropic
    upstream_model: claude-sonnet-4-5
    max_output_tokens: 8000
    pricing: {{input: 2.50, cached_input: 1.25, cache_write: 3.125, output: 10.00}}
  gemini-test:
    provider: google
    upstream_model: gemini-2.5-flash
    pricing: {{input: 2.50, cached_input: 1.25, output: 10.00}}
"""


@pytest.fixture(scope="session")
def fake_responses() -> Iterator[FakeResponses]:
    fake = FakeResponses()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture(scope="session")
def responses_world(
    fake_responses: FakeResponses,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> tuple[str, dict[str, str]]:
    """The catalog over every fake, and the environment a gateway serving it needs."""
    catalog = responses_catalog(
        fake_responses.base_url, fake_openai.base_url, fake_anthropic.base_url, fake_gemini.base_url
    )
    env = {k: UPSTREAM_KEY for k in ("FAKE_OPENAI_KEY", "FAKE_ANTHROPIC_KEY", "FAKE_GEMINI_KEY")}
    return catalog, env | {"CALCIFER_MASTER_KEY": MASTER}
