"""The response cache on every route and setting through the real gateway, on both backends
(in process with one worker; Redis with two): the Responses API, the seed `/v1/completions`,
paced replays, a hit billed at half the original, team and global scopes, `n > 1`, a model
that turns the cache off, the per-request opt-in for sampled answers, and rate limits."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.e2e.access_setup import admin, new_key
from tests.e2e.cache_setup import cache_gateway
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import Behaviour
from tests.gateway_process import GatewayProcess

CONFIG = """cache:
  enabled: true
  ttl_seconds: 60
  hit_cost_fraction: 0.5
  replay_pacing: true
"""


@pytest.fixture(scope="module", params=["local", "redis"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI
) -> Iterator[GatewayProcess]:
    url = fake_openai.base_url
    catalog = f"""
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{url}", max_retries: 0}}
  openai-chat: {{kind: openai, responses_api: false, api_key_env: KEY, base_url: "{url}", max_retries: 0}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 2.5, output: 10}}}}
  gpt-bridged: {{provider: openai-chat, upstream_model: gpt-4o, pricing: {{input: 2.5, output: 10}}}}
  gpt-4o-uncached: {{provider: openai, upstream_model: gpt-4o, pricing: {{input: 2.5, output: 10}},
                     cache: {{enabled: false}}}}
  gpt-4o-team: {{provider: openai, upstream_model: gpt-4o, pricing: {{input: 2.5, output: 10}},
                 cache: {{scope: team}}}}
  gpt-4o-global: {{provider: openai, upstream_model: gpt-4o, pricing: {{input: 2.5, output: 10}},
                   cache: {{scope: global}}}}
  gpt-4o-many: {{provider: openai, upstream_model: gpt-4o, pricing: {{input: 2.5, output: 10}},
                 cache: {{multiple_choices: true}}}}
"""
    process = cache_gateway(request, tmp_path_factory, catalog, CONFIG)
    yield process
    process.stop()


@pytest.fixture
def key(gateway: GatewayProcess, fake_openai: FakeOpenAI) -> str:
    fake_openai.reset()
    secret: str = new_key(gateway)["key"]
    return secret


def client(gateway: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)


def ask(gateway: GatewayProcess, key: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    request: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    request |= {"temperature": 0} | body
    answer = client(gateway, key).chat.completions.with_raw_response.create(**request, extra_headers=headers)
    time.sleep(0.1)  # a miss is stored after its answer is sent
    return answer


def cache_header(answer: Any) -> str | None:
    value: str | None = answer.headers.get("x-calcifer-cache")
    return value


def test_a_responses_api_hit_has_a_fresh_id_that_a_next_turn_can_continue_from(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    create = client(gateway, key).responses.with_raw_response.create
    first = create(model="gpt-bridged", input="hello", temperature=0)
    time.sleep(0.1)
    second = create(model="gpt-bridged", input="hello", temperature=0)
    assert [cache_header(first), cache_header(second)] == ["miss", "hit"]
    original, hit = first.parse(), second.parse()
    assert hit.output_text == original.output_text == "Hello from the fake upstream"
    assert hit.id != original.id and hit.id.startswith("resp_")
    assert len(fake_openai.received) == 1
    follow_up = client(gateway, key).responses.create(
        model="gpt-bridged", input="and then?", previous_response_id=hit.id, temperature=0
    )
    assert follow_up.output_text
    sent = [str(message["content"]) for message in fake_openai.last.body["messages"]]
    assert ["hello" in sent[0], "Hello from the fake upstream" in sent[1], "and then?" in sent[2]] == [
        True, True, True
    ]  # the hit's turn, continued
    assert len(sent) == 3


def test_a_streamed_responses_api_hit_has_a_fresh_id(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    ids, texts = [], []
    for _ in range(2):
        responses = client(gateway, key).responses
        with responses.stream(model="gpt-bridged", input="hello", temperature=0) as stream:
            final = stream.get_final_response()
        ids.append(final.id)
        texts.append(final.output_text)
        time.sleep(0.1)
    assert texts[0] == texts[1] == "Hello from the fake upstream"
    assert ids[0] != ids[1] and all(identifier.startswith("resp_") for identifier in ids)
    assert len(fake_openai.received) == 1


def seed(gateway: GatewayProcess, key: str, stream: bool) -> httpx.Response:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "seed"}], "temperature": 0}
    response = httpx.post(
        gateway.url + "/v1/completions",
        json=body | {"stream": stream},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    time.sleep(0.1)
    return response


def test_the_seed_completions_route_answers_a_repeat_from_the_cache(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    first, second = seed(gateway, key, False), seed(gateway, key, False)
    assert [first.headers["x-calcifer-cache"], second.headers["x-calcifer-cache"]] == ["miss", "hit"]
    original, hit = first.json(), second.json()
    assert hit["content"] == original["content"] == "Hello from the fake upstream"
    assert hit["id"] != original["id"]
    assert hit["usage"]["total_tokens"] == original["usage"]["total_tokens"]
    assert Decimal(str(hit["usage"]["cost"])) == Decimal(str(original["usage"]["cost"])) / 2
    assert len(fake_openai.received) == 1


def test_the_seed_completions_stream_is_replayed_as_the_same_deltas(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    events = []
    for _ in range(2):
        response = seed(gateway, key, True)
        events.append([orjson.loads(e.removeprefix("data: ")) for e in response.text.split("\n\n") if e])
        events[-1].append(response.headers["x-calcifer-cache"])
    (*original, original_header), (*replayed, replayed_header) = events
    assert [original_header, replayed_header] == ["miss", "hit"]
    assert [e["delta"] for e in replayed] == [e["delta"] for e in original]
    assert "".join(e["delta"] for e in replayed) == "Hello from the fake upstream"
    done, replay_done = original[-1], replayed[-1]
    assert replay_done["done"] is True and replay_done["finish_reason"] == done["finish_reason"]
    assert replay_done["usage"]["total_tokens"] == done["usage"]["total_tokens"]
    assert len(fake_openai.received) == 1


def timed_stream(gateway: GatewayProcess, key: str) -> tuple[str, list[float]]:
    """A streamed request: (cache header, arrival time of each SSE event from the first)."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "paced"}], "temperature": 0}
    arrivals: list[float] = []
    headers = {"Authorization": f"Bearer {key}"}
    url = gateway.url + "/v1/chat/completions"
    with httpx.stream("POST", url, json=body | {"stream": True}, headers=headers, timeout=10) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
        header = response.headers["x-calcifer-cache"]
    time.sleep(0.1)
    return header, [moment - arrivals[0] for moment in arrivals]


def test_a_paced_replay_takes_about_as_long_as_the_original(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Behaviour(chunk_delay=0.1))  # 8 gaps: about 0.8 s
    original_header, original = timed_stream(gateway, key)
    replay_header, replay = timed_stream(gateway, key)
    assert [original_header, replay_header] == ["miss", "hit"]
    assert original[-1] > 0.5
    assert replay[-1] >= 0.6 * original[-1]  # paced; at full speed it would take milliseconds
    assert sum(1 for a, b in itertools.pairwise(replay) if b - a > 0.05) >= 4  # gaps kept
    assert len(fake_openai.received) == 1


def key_shown(gateway: GatewayProcess, key_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = admin(gateway, "GET", f"/admin/keys/{key_id}").json()
    return shown


def settled_spend(gateway: GatewayProcess, key_id: str) -> Decimal:
    """The key's budget spend once nothing is held for it any more."""
    deadline = time.monotonic() + 5
    while True:
        budget = key_shown(gateway, key_id)["budget"]
        if budget["reserved_usd"] == "0" or time.monotonic() > deadline:
            return Decimal(budget["spend_usd"])
        time.sleep(0.05)


def ledger_rows(gateway: GatewayProcess, key_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:  # the ledger is written in batches
        rows: list[dict[str, Any]] = admin(gateway, "GET", f"/admin/requests?key_id={key_id}").json()["data"]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_a_hit_billed_at_half_agrees_in_the_header_usage_ledger_and_budget(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    created = new_key(gateway, budget={"max_usd": "5"})
    miss, hit = ask(gateway, created["key"]), ask(gateway, created["key"])
    assert [cache_header(miss), cache_header(hit)] == ["miss", "hit"]
    full = Decimal(miss.headers["x-calcifer-cost"])
    half = Decimal(hit.headers["x-calcifer-cost"])
    assert full > 0 and half == full / 2
    assert Decimal(str(orjson.loads(hit.content)["usage"]["cost"])) == half
    rows = {row["cache_hit"]: row for row in ledger_rows(gateway, created["id"], 2)}
    assert Decimal(rows[True]["cost_usd"]) == half and Decimal(rows[True]["saved_usd"]) == full - half
    assert Decimal(rows[False]["cost_usd"]) == full
    assert settled_spend(gateway, created["id"]) == full + half  # the hit spends what it is billed


def test_a_team_scope_is_shared_by_the_teams_keys_and_no_other(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    teams = [admin(gateway, "POST", "/admin/teams", {"name": name}).json()["id"] for name in ("red", "blue")]
    red_one, red_two = (new_key(gateway, team_id=teams[0])["key"] for _ in range(2))
    blue = new_key(gateway, team_id=teams[1])["key"]
    answers = [ask(gateway, secret, model="gpt-4o-team") for secret in (red_one, red_two, blue)]
    assert [cache_header(answer) for answer in answers] == ["miss", "hit", "miss"]
    assert len(fake_openai.received) == 2


def test_a_global_scope_is_shared_by_every_key(gateway: GatewayProcess, fake_openai: FakeOpenAI) -> None:
    fake_openai.reset()
    team = admin(gateway, "POST", "/admin/teams", {"name": "green"}).json()["id"]
    question = f"global {time.time_ns()}"  # new to a Redis shared with the other backend's run
    secrets = [new_key(gateway)["key"], new_key(gateway, team_id=team)["key"]]
    messages = [{"role": "user", "content": question}]
    answers = [ask(gateway, secret, model="gpt-4o-global", messages=messages) for secret in secrets]
    assert [cache_header(answer) for answer in answers] == ["miss", "hit"]
    assert len(fake_openai.received) == 1


def test_several_choices_bypass_the_cache_unless_the_model_allows_them(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    assert [cache_header(ask(gateway, key, n=2)) for _ in range(2)] == ["bypass", "bypass"]
    assert [cache_header(ask(gateway, key, model="gpt-4o-many", n=2)) for _ in range(2)] == ["miss", "hit"]
    assert len(fake_openai.received) == 3


def test_a_model_whose_section_turns_the_cache_off_is_never_cached(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    answers = [ask(gateway, key, model="gpt-4o-uncached") for _ in range(2)]
    assert [cache_header(answer) for answer in answers] == [None, None]  # no header: off for it
    assert len(fake_openai.received) == 2


def test_a_sampled_request_is_cached_when_the_request_opts_in(
    gateway: GatewayProcess, key: str, fake_openai: FakeOpenAI
) -> None:
    sampled = {"temperature": 0.8}
    assert cache_header(ask(gateway, key, **sampled)) == "bypass"
    opt_in = {"X-Calcifer-Cache-Sampled": "true"}
    assert [cache_header(ask(gateway, key, opt_in, **sampled)) for _ in range(2)] == ["miss", "hit"]
    assert cache_header(ask(gateway, key, {"X-Calcifer-Cache-Sampled": "false"}, **sampled)) == "bypass"
    unset = client(gateway, key).chat.completions.with_raw_response.create(  # no temperature at all
        model="gpt-4o", messages=[{"role": "user", "content": "unset"}], extra_headers=opt_in
    )
    assert cache_header(unset) == "miss"
    assert len(fake_openai.received) == 4  # the hit alone did not reach the upstream
    with pytest.raises(openai.BadRequestError) as refused:
        ask(gateway, key, {"X-Calcifer-Cache-Sampled": "maybe"})
    assert "X-Calcifer-Cache-Sampled" in str(refused.value)


def test_a_hit_counts_as_a_request_for_the_rate_limit(
    gateway: GatewayProcess, fake_openai: FakeOpenAI
) -> None:
    secret = new_key(gateway, limits={"rpm": 3})["key"]
    assert [cache_header(ask(gateway, secret)) for _ in range(3)] == ["miss", "hit", "hit"]
    with pytest.raises(openai.RateLimitError):
        ask(gateway, secret)
