"""The response cache through the real gateway with the official OpenAI and Anthropic SDKs, on
both backends: in process (one worker) and Redis (two workers sharing it). Upstream calls are
counted at the fake upstreams: a hit is an answer that never reached them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.e2e.access_setup import ADMIN, admin, new_key
from tests.e2e.cache_setup import cache_gateway
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import Behaviour
from tests.gateway_process import GatewayProcess

HELLO: Any = [{"role": "user", "content": "hello"}]
CACHE_CONFIG = "cache:\n  enabled: true\n  ttl_seconds: 60\n"


@pytest.fixture(scope="module", params=["local", "redis"])
def gateway(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> Iterator[GatewayProcess]:
    catalog = f"""
prices_as_of: "2025-11-01"
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{fake_openai.base_url}", max_retries: 0}}
  anthropic: {{kind: anthropic, api_key_env: KEY, base_url: "{fake_anthropic.base_url}", max_retries: 0}}
models:
  claude: {{provider: anthropic, upstream_model: claude-sonnet-4-5, pricing: {{input: 3, output: 15}}}}
  gpt-4o: {{provider: openai, aliases: [four], pricing: {{input: 2.50, output: 10.00}}}}
  gpt-4o-mini: {{provider: openai, pricing: {{input: 0.15, output: 0.60}}}}
"""
    process = cache_gateway(request, tmp_path_factory, catalog, CACHE_CONFIG)
    yield process
    process.stop()


@pytest.fixture
def key(gateway: GatewayProcess, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic) -> str:
    """A fresh key per test: its entries are its own (per-key scope), whatever ran before."""
    fake_openai.reset()
    fake_anthropic.reset()
    secret: str = new_key(gateway)["key"]
    return secret


def ask(gateway: GatewayProcess, key: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)
    request: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hello"}],
        "temperature": 0,
    }
    return client.chat.completions.with_raw_response.create(**(request | body), extra_headers=headers)


def upstream_calls(fake: FakeOpenAI) -> int:
    return len(fake.received)


def test_a_repeated_request_is_answered_from_the_cache_once_the_upstream_answered(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    first = ask(gateway, key, user="alice", metadata={"run": "1"})
    time.sleep(0.1)  # the store is written after the answer is sent
    second = ask(gateway, key, model="four", user="bob")  # an alias, another user: the same answer
    assert upstream_calls(fake_openai) == 1
    assert first.headers["x-calcifer-cache"] == "miss"
    assert second.headers["x-calcifer-cache"] == "hit"
    assert second.headers["x-calcifer-cache-request-id"] == first.headers["x-request-id"]
    assert int(second.headers["age"]) >= 0
    original, replayed = first.parse(), second.parse()
    assert replayed.choices[0].message.content == original.choices[0].message.content
    assert replayed.usage.total_tokens == original.usage.total_tokens
    assert replayed.id != original.id and replayed.id.startswith("chatcmpl-")
    assert Decimal(first.headers["x-calcifer-cost"]) > 0
    assert Decimal(second.headers["x-calcifer-cost"]) == 0  # a hit costs nothing by default


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]},
        {"model": "gpt-4o-mini"},
        {"max_tokens": 7},
    ],
    ids=["temperature", "tools", "model", "max_tokens"],
)
def test_a_request_that_differs_in_what_determines_the_answer_misses(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI, change: dict[str, Any]
) -> None:
    ask(gateway, key)
    time.sleep(0.1)
    changed = ask(gateway, key, **change)
    assert changed.headers["x-calcifer-cache"] in {"miss", "bypass"}
    assert upstream_calls(fake_openai) == 2


def test_another_key_does_not_get_this_keys_answer(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    ask(gateway, key)
    time.sleep(0.1)
    other = ask(gateway, new_key(gateway)["key"])
    assert other.headers["x-calcifer-cache"] == "miss"
    assert upstream_calls(fake_openai) == 2


def test_no_store_neither_looks_up_nor_stores_and_no_cache_refreshes(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    assert ask(gateway, key, {"Cache-Control": "no-store"}).headers["x-calcifer-cache"] == "bypass"
    time.sleep(0.1)
    assert ask(gateway, key).headers["x-calcifer-cache"] == "miss"  # no-store kept nothing
    time.sleep(0.1)
    assert ask(gateway, key, {"Cache-Control": "no-store"}).headers["x-calcifer-cache"] == "bypass"
    refreshed = ask(gateway, key, {"Cache-Control": "no-cache"})
    assert refreshed.headers["x-calcifer-cache"] == "miss"
    assert upstream_calls(fake_openai) == 4
    time.sleep(0.1)
    hit = ask(gateway, key)
    assert hit.headers["x-calcifer-cache-request-id"] == refreshed.headers["x-request-id"]
    assert upstream_calls(fake_openai) == 4


def test_an_entry_expires_after_the_ttl_the_request_asked_for(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    ask(gateway, key, {"X-Calcifer-Cache-Ttl": "1"})
    time.sleep(0.1)
    assert ask(gateway, key).headers["x-calcifer-cache"] == "hit"
    time.sleep(1.1)
    assert ask(gateway, key).headers["x-calcifer-cache"] == "miss"
    assert upstream_calls(fake_openai) == 2


def test_sampled_requests_are_not_cached_by_default(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)
    for _ in range(2):
        answer = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hello"}]
        )
        assert answer.headers["x-calcifer-cache"] == "bypass"
    assert upstream_calls(fake_openai) == 2


def test_a_bad_ttl_header_is_a_400_in_openai_shape(gateway: GatewayProcess, key: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        ask(gateway, key, {"X-Calcifer-Cache-Ttl": "soon"})
    assert "X-Calcifer-Cache-Ttl" in str(refused.value)


def stream_text(gateway: GatewayProcess, key: str, **body: Any) -> tuple[str, str, int, str, list[str]]:
    """A streamed request with the OpenAI SDK: (text, response id, total tokens, cache header,
    each chunk's role and content)."""
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)
    request: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hello"}],
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.chat.completions.with_streaming_response.create(**(request | body)) as response:
        chunks = list(response.parse())
        header = response.headers["x-calcifer-cache"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert usage is not None
    pieces = [f"{c.choices[0].delta.role}:{c.choices[0].delta.content}" for c in chunks if c.choices]
    return text, chunks[0].id, usage.total_tokens, header, pieces


def test_a_streamed_answer_is_replayed_with_the_same_content_usage_and_a_fresh_id(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    text, first_id, tokens, header, pieces = stream_text(gateway, key)
    assert header == "miss" and text == "Hello from the fake upstream"
    time.sleep(0.1)
    again, replay_id, replay_tokens, replay_header, replay_pieces = stream_text(gateway, key)
    assert replay_header == "hit"
    assert (again, replay_tokens, replay_pieces) == (text, tokens, pieces)
    assert pieces[0].startswith("assistant:")  # the first chunk, which starts the stream, too
    assert replay_id != first_id and replay_id.startswith("chatcmpl-")
    assert upstream_calls(fake_openai) == 1


def test_a_stream_cut_by_the_upstream_is_not_kept(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Behaviour(cut_after_chunks=2))
    with pytest.raises(openai.APIError):
        stream_text(gateway, key)
    time.sleep(0.1)
    assert stream_text(gateway, key)[3] == "miss"
    assert upstream_calls(fake_openai) == 2


@pytest.mark.parametrize("streamed", [False, True])
def test_an_anthropic_answer_is_replayed_in_anthropics_shape(
    gateway: GatewayProcess, key: str, fake_anthropic: FakeAnthropic, streamed: bool
) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=10)
    # This SDK has no `temperature` parameter any more; without one an answer is sampled.
    ask: Any = {"model": "claude", "max_tokens": 50, "messages": HELLO, "extra_body": {"temperature": 0}}
    messages, costs = [], []
    for _ in range(2):
        if streamed:
            with client.messages.stream(**ask) as stream:
                # the cost rides on the stream's message_delta (the SDK's final message drops it)
                usages = [event.usage for event in stream if event.type == "message_delta"]
                messages.append(stream.get_final_message())
            costs.append(Decimal(str((usages[-1].model_extra or {})["cost"])))
        else:
            messages.append(message := client.messages.create(**ask))
            costs.append(Decimal(str((message.usage.model_extra or {})["cost"])))
        time.sleep(0.1)
    first, second = messages
    assert second.content == first.content
    tokens = lambda message: (message.usage.input_tokens, message.usage.output_tokens)  # noqa: E731
    assert tokens(second) == tokens(first)
    assert second.id != first.id and second.id.startswith("msg_")
    assert len(fake_anthropic.received) == 1
    # the cost each answer reports is what it was billed: the live one its price, the hit nothing
    assert costs[0] > 0
    assert costs[1] == 0


def test_a_miss_on_one_replica_is_a_hit_on_another_sharing_redis(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, redis_url: str
) -> None:
    catalog = f"""
prices_as_of: "2025-11-01"
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{fake_openai.base_url}", max_retries: 0}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 2.50, output: 10.00}}}}
"""
    env = {"KEY": UPSTREAM_KEY, "CALCIFER_REDIS_URL": redis_url}
    replicas = [
        GatewayProcess(tmp_path_factory.mktemp(name), catalog, env=env, config_extra=CACHE_CONFIG)
        for name in ("replica-a", "replica-b")
    ]
    for replica in replicas:
        replica.start()
    try:
        fake_openai.reset()
        question = [{"role": "user", "content": f"replicas {time.time_ns()}"}]  # new to Redis
        answers = []
        for replica in replicas:
            client = openai.OpenAI(base_url=replica.url + "/v1", api_key="k", max_retries=0, timeout=10)
            create = client.chat.completions.with_raw_response.create
            answers.append(create(model="gpt-4o", messages=question, temperature=0))
            time.sleep(0.1)
        assert [answer.headers["x-calcifer-cache"] for answer in answers] == ["miss", "hit"]
        assert answers[1].headers["x-calcifer-cache-request-id"] == answers[0].headers["x-request-id"]
        assert upstream_calls(fake_openai) == 1
    finally:
        for replica in replicas:
            replica.stop()


def cache_counts(gateway: GatewayProcess) -> dict[str, float]:
    """`calcifer_cache_requests_total` by result, from the gateway's own scrape."""
    scrape = httpx.get(gateway.url + "/metrics", headers=ADMIN, timeout=10).text
    counts = {"hit": 0.0, "miss": 0.0, "bypass": 0.0}
    for line in scrape.splitlines():
        if line.startswith("calcifer_cache_requests_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            counts[result] = float(line.rsplit(" ", 1)[1])
    return counts


def test_the_ledger_and_the_metrics_record_hits_misses_and_bypasses(gateway: GatewayProcess) -> None:
    created = new_key(gateway)
    before = cache_counts(gateway)
    miss = ask(gateway, created["key"])
    time.sleep(0.1)
    ask(gateway, created["key"])
    ask(gateway, created["key"], {"Cache-Control": "no-store"})
    deadline = time.monotonic() + 10
    while True:  # the ledger is written in batches, twice a second
        records = admin(gateway, "GET", f"/admin/requests?key_id={created['id']}").json()["data"]
        if len(records) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    by_hit = sorted(records, key=lambda record: record["cache_hit"])
    assert [record["cache_hit"] for record in by_hit] == [False, False, True]
    hit = by_hit[2]
    assert Decimal(hit["cost_usd"]) == 0
    assert Decimal(hit["saved_usd"]) == Decimal(miss.headers["x-calcifer-cost"]) > 0
    assert hit["served_model"] == "gpt-4o" and hit["output_tokens"] > 0
    assert [Decimal(record["saved_usd"]) for record in by_hit[:2]] == [0, 0]
    after = cache_counts(gateway)
    assert {result: after[result] - before[result] for result in after} == {"hit": 1, "miss": 1, "bypass": 1}
