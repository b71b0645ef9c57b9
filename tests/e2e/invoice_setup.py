"""The gateway, catalog and readers the invoice-pricing e2e tests share: fake OpenAI, Anthropic
and Gemini upstreams behind one catalog priced at the vendors' list prices."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import UPSTREAM_KEY
from tests.e2e.access_setup import ADMIN, MASTER
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway_process import GatewayProcess

M = Decimal(1_000_000)
HELLO = [{"role": "user", "content": "hello"}]
KEYS = {name: UPSTREAM_KEY for name in ("FAKE_OPENAI_KEY", "FAKE_ANTHROPIC_KEY", "FAKE_GEMINI_KEY")}


def start_gateway(
    workdir: Path, openai: FakeOpenAI, anthropic: FakeAnthropic, gemini: FakeGemini, config_extra: str = ""
) -> GatewayProcess:
    """A gateway serving `invoice_catalog` from the three fakes, with the admin API on."""
    catalog = invoice_catalog(openai.base_url, anthropic.base_url, gemini.base_url)
    env = KEYS | {"CALCIFER_MASTER_KEY": MASTER}
    return GatewayProcess(workdir, catalog, env=env, config_extra=config_extra).start()


def invoice_catalog(openai_url: str, anthropic_url: str, gemini_url: str) -> str:
    common = "max_retries: 0\n    circuit_breaker: {consecutive_failures: 1000, min_calls: 1000}"
    # Claude Sonnet 4.5's list (https://platform.claude.com/docs/en/about-claude/pricing): $3 input,
    # $3.75 5m writes, $6 1h writes, $0.30 hits, $15 output per MTok; web search $10 per 1,000.
    return f"""
prices_as_of: "2026-12-01"
providers:
  openai:
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
  flash:
    provider: google
    upstream_model: gemini-2.5-flash
    pricing: {{input: 0.30, cached_input: 0.03, output: 2.50}}
  sonnet:
    provider: anthropic
    upstream_model: claude-sonnet-4-5
    max_output_tokens: 8000
    pricing:
      input: 3.00
      cached_input: 0.30
      cache_write: 3.75
      cache_write_1h: 6.00
      output: 15.00
      tool_calls: {{web_search: 10.00}}
  o3:
    provider: openai
    pricing:
      input: 2.00
      cached_input: 0.50
      output: 8.00
      service_tiers:
        flex: {{input: 1.00, cached_input: 0.25, output: 4.00}}
  old-sonnet:
    provider: anthropic
    upstream_model: claude-sonnet-4
    deprecated_on: 2020-01-01
    retires_on: 2999-01-01
    replacement: sonnet
    pricing: {{input: 3.00, output: 15.00}}
  gone-sonnet:
    provider: anthropic
    upstream_model: claude-3-5-sonnet
    retires_on: 2020-06-01
    replacement: sonnet
    pricing: {{input: 3.00, output: 15.00}}
  gpt-same:
    provider: openai
    pricing: {{input: 3.00, output: 15.00}}
  flash-same:
    provider: google
    upstream_model: gemini-2.5-flash
    pricing: {{input: 3.00, output: 15.00}}
  dated:
    provider: openai
    pricing:
      - {{input: 9.00, output: 9.00}}
      - {{effective_from: 2020-01-01, input: 2.00, output: 8.00}}
      - {{effective_from: 2999-01-01, input: 100.00, output: 100.00}}
  gpt-audio:
    provider: openai
    # https://platform.openai.com/docs/pricing: gpt-4o-audio-preview text $2.50 in / $10 out,
    # audio $40 in / $80 out per 1M tokens
    pricing: {{input: 2.50, output: 10.00, input_audio: 40.00, output_audio: 80.00}}
  listed:
    provider: openai
    pricing:
      input: 1.00
      output: 2.00
      reasoning: 3.00
      input_audio: 4.00
      output_audio: 5.00
      input_image: 6.00
      output_image: 7.00
      per_request: 0.005
  embed:
    provider: openai
    upstream_model: text-embedding-3-small
    mode: embedding
    pricing: {{input: 0.02}}
  old-embed:
    provider: openai
    upstream_model: text-embedding-ada-002
    mode: embedding
    deprecated_on: 2020-01-01
    retires_on: 2999-01-01
    replacement: embed
    pricing: {{input: 0.10}}
  gone-embed:
    provider: openai
    upstream_model: text-embedding-ada-001
    mode: embedding
    retires_on: 2020-06-01
    replacement: embed
    pricing: {{input: 0.10}}
"""


def ledger_row(gateway: GatewayProcess, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = httpx.get(gateway.url + "/admin/requests?limit=100", headers=ADMIN).json()["data"]
        if found := [row for row in rows if row["request_id"] == request_id]:
            return dict(found[0])
        time.sleep(0.2)
    raise AssertionError(f"request {request_id} never reached the ledger")


def log_line(gateway: GatewayProcess, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in gateway.log().splitlines():
            if request_id in line and '"route"' in line:
                record: dict[str, Any] = orjson.loads(line)
                return record
        time.sleep(0.1)
    raise AssertionError(f"no log line for {request_id}")


def events(stream: str) -> list[tuple[str | None, Any]]:
    """(event name, decoded data) of each server-sent event; `[DONE]` left out."""
    found: list[tuple[str | None, Any]] = []
    for block in stream.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data and data != ["[DONE]"]:
            found.append((name, orjson.loads("\n".join(data))))
    return found


def streamed_usage(dialect: str, stream: str) -> dict[str, Any]:
    """The usage object (with its cost) each dialect's stream ends with."""
    received = events(stream)
    if dialect == "chat":
        return dict(next(data["usage"] for _, data in reversed(received) if data.get("usage")))
    if dialect == "seed":
        return dict(received[-1][1]["usage"])
    if dialect == "messages":
        return dict(next(data["usage"] for name, data in received if name == "message_delta"))
    return dict(next(data["response"]["usage"] for name, data in received if name == "response.completed"))
