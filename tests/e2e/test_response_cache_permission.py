"""A key or team that forbids the response cache (a zero-data-retention tenant), through the
real gateway on both backends: its requests are never answered from the cache nor kept in it,
even under a global scope; the admin API sets and shows the permission; and a key over its
budget is refused even when its answer is in the cache (admission comes before the lookup)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.e2e.access_setup import admin, new_key
from tests.e2e.cache_setup import cache_gateway
from tests.e2e.test_console_security import signed_in
from tests.e2e.test_response_cache_paths import cache_header, ledger_rows
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway_process import GatewayProcess

CONFIG = """cache:
  enabled: true
  ttl_seconds: 60
  scope: global
"""
KEY_CHANGE_REACHES_EVERY_WORKER = 1.5
"""docs/access.md: a key or team change reaches every worker within `access.refresh_seconds`
(1 s); the worker that took the change applies it at once."""


@pytest.fixture(scope="module", params=["local", "redis"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI
) -> Iterator[GatewayProcess]:
    catalog = f"""
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{fake_openai.base_url}", max_retries: 0}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 2.5, output: 10}}}}
"""
    process = cache_gateway(request, tmp_path_factory, catalog, CONFIG)
    yield process
    process.stop()


@pytest.fixture
def question(fake_openai: FakeOpenAI) -> list[dict[str, str]]:
    """Messages no earlier test asked (a Redis is shared with the other backend's run)."""
    fake_openai.reset()
    return [{"role": "user", "content": f"private {time.time_ns()}"}]


def ask(gateway: GatewayProcess, key: str, messages: list[dict[str, str]], stream: bool = False) -> Any:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)
    answer = client.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=messages,
        temperature=0,
        stream=stream,  # type: ignore[arg-type]
    )
    if stream:
        list(answer.parse())  # to the end: a streamed miss is kept only once it ended normally
    time.sleep(0.1)  # a miss is stored after its answer is sent
    return answer


def test_a_key_that_forbids_the_cache_neither_reads_nor_writes_a_global_entry(
    gateway: GatewayProcess, fake_openai: FakeOpenAI, question: list[dict[str, str]]
) -> None:
    private = new_key(gateway, cache=False)
    other = new_key(gateway)["key"]
    answers = [ask(gateway, private["key"], question) for _ in range(2)]
    answers.append(ask(gateway, private["key"], question, stream=True))
    assert [cache_header(answer) for answer in answers] == ["bypass"] * 3
    assert len(fake_openai.received) == 3
    # Nothing was kept: another key's identical request is a miss, then a hit for it ...
    assert [cache_header(ask(gateway, other, question)) for _ in range(2)] == ["miss", "hit"]
    assert len(fake_openai.received) == 4
    # ... and the entry it wrote is not served to the key that forbids the cache.
    assert cache_header(ask(gateway, private["key"], question)) == "bypass"
    assert len(fake_openai.received) == 5
    rows = ledger_rows(gateway, private["id"], 4)
    assert [row["cache_result"] for row in rows] == ["bypass"] * 4


def test_a_key_whose_team_forbids_the_cache_bypasses_it(
    gateway: GatewayProcess, fake_openai: FakeOpenAI, question: list[dict[str, str]]
) -> None:
    team = admin(gateway, "POST", "/admin/teams", {"name": f"zdr {time.time_ns()}", "cache": False}).json()
    assert team["cache"] is False
    member = new_key(gateway, team_id=team["id"])
    assert member["cache"] is True  # its own setting; the team's forbids it
    assert [cache_header(ask(gateway, member["key"], question)) for _ in range(2)] == ["bypass"] * 2
    assert cache_header(ask(gateway, new_key(gateway)["key"], question)) == "miss"
    assert len(fake_openai.received) == 3


def test_a_key_allowed_the_cache_again_through_the_admin_api_uses_it(
    gateway: GatewayProcess, fake_openai: FakeOpenAI, question: list[dict[str, str]]
) -> None:
    created = new_key(gateway, cache=False)
    assert cache_header(ask(gateway, created["key"], question)) == "bypass"
    changed = admin(gateway, "PATCH", f"/admin/keys/{created['id']}", {"cache": True})
    assert changed.status_code == 200 and changed.json()["cache"] is True
    time.sleep(KEY_CHANGE_REACHES_EVERY_WORKER)
    assert [cache_header(ask(gateway, created["key"], question)) for _ in range(2)] == ["miss", "hit"]
    assert len(fake_openai.received) == 2


def test_the_admin_api_shows_the_permission_and_refuses_a_wrong_type(gateway: GatewayProcess) -> None:
    created = new_key(gateway, cache=False)
    assert admin(gateway, "GET", f"/admin/keys/{created['id']}").json()["cache"] is False
    listed = admin(gateway, "GET", "/admin/keys").json()["data"]
    assert {key["id"]: key["cache"] for key in listed}[created["id"]] is False
    for path in ("/admin/keys", "/admin/teams", f"/admin/keys/{created['id']}"):
        method = "PATCH" if path.startswith("/admin/keys/") else "POST"
        refused = admin(gateway, method, path, {"name": f"bad {time.time_ns()}", "cache": "no"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["param"] == "cache"
    assert admin(gateway, "GET", f"/admin/keys/{created['id']}").json()["cache"] is False


def test_the_console_shows_which_keys_and_teams_forbid_the_cache(gateway: GatewayProcess) -> None:
    team = admin(
        gateway, "POST", "/admin/teams", {"name": f"console {time.time_ns()}", "cache": False}
    ).json()
    private, default = new_key(gateway, cache=False)["id"], new_key(gateway)["id"]
    client, _ = signed_in(gateway)
    page = client.get("/admin/console/keys").text
    assert f'id="no-cache-{private}"' in page and f'id="no-cache-{team["id"]}"' in page
    assert f'id="no-cache-{default}"' not in page


def test_a_key_over_its_budget_is_refused_even_when_its_answer_is_cached(
    gateway: GatewayProcess, fake_openai: FakeOpenAI, question: list[dict[str, str]]
) -> None:
    created = new_key(gateway)
    assert [cache_header(ask(gateway, created["key"], question)) for _ in range(2)] == ["miss", "hit"]
    # The miss spent more than nothing: a budget of 0 is exceeded.
    admin(gateway, "PATCH", f"/admin/keys/{created['id']}", {"budget": {"max_usd": "0"}})
    time.sleep(KEY_CHANGE_REACHES_EVERY_WORKER)
    with pytest.raises(openai.APIStatusError) as refused:
        ask(gateway, created["key"], question)
    assert refused.value.status_code == 402
    assert refused.value.response.json()["error"]["code"] == "budget_exceeded"
    assert len(fake_openai.received) == 1
