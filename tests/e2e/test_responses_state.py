"""Stored Responses API state across two gateway processes sharing one store (a SQLite file,
then PostgreSQL): `previous_response_id` chains, retrieve, delete, input items, and who may
see a stored response."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.access_setup import MASTER, fresh_database, new_key
from tests.e2e.responses_setup import fake_responses, responses_world  # noqa: F401
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_responses_upstream import FakeResponses
from tests.fakes.upstream import Behaviour
from tests.gateway_process import GatewayProcess

Pair = tuple[GatewayProcess, GatewayProcess]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    responses_world: tuple[str, dict[str, str]],  # noqa: F811
) -> Iterator[Pair]:
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'calcifer.db'}"
    else:
        database = fresh_database(request.getfixturevalue("postgres_url"))
    catalog, env = responses_world[0], responses_world[1] | {"CALCIFER_DATABASE_URL": database}
    started: list[GatewayProcess] = []
    try:
        for label in ("a", "b"):
            workdir: Path = tmp_path_factory.mktemp(f"responses-{label}")
            started.append(GatewayProcess(workdir, catalog, env=env, auth_required=True).start())
        yield started[0], started[1]
    finally:
        for process in started:
            process.stop()


def _client(gateway: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)


@pytest.fixture
def clients(pair: Pair) -> tuple[openai.OpenAI, openai.OpenAI]:
    """One key's client on each process."""
    key = new_key(pair[0])["key"]
    return _client(pair[0], key), _client(pair[1], key)


def test_a_chain_continues_on_the_other_process_and_on_another_vendor(
    clients: tuple[openai.OpenAI, openai.OpenAI],
    fake_anthropic: FakeAnthropic,
    fake_responses: FakeResponses,  # noqa: F811
) -> None:
    first = clients[0].responses.create(model="gpt-chat", input="My name is Ada.", instructions="Be terse")
    fake_anthropic.reset()
    fake_anthropic.script(Behaviour(text="You are Ada."))
    with clients[1].responses.stream(
        model="claude-test", input="What is my name?", previous_response_id=first.id
    ) as stream:
        second = stream.get_final_response()
    assert second.output_text == "You are Ada." and second.previous_response_id == first.id
    turns = [(turn.role, turn.text) for turn in fake_anthropic.turns()]
    assert turns == [
        ("user", "My name is Ada."),
        ("assistant", "Hello from the fake upstream"),
        ("user", "What is my name?"),
    ]
    assert "Be terse" not in fake_anthropic.system_prompt()  # instructions are not carried over
    fake_responses.reset()
    clients[0].responses.create(model="gpt-5", input="And now?", previous_response_id=second.id)
    sent = fake_responses.last.body
    assert "previous_response_id" not in sent  # the upstream does not know our ids
    assert [item.get("role") for item in sent["input"]] == ["user", "assistant", "user", "assistant", "user"]
    assert sent["input"][-1]["content"][0]["text"] == "And now?"


def test_retrieve_list_and_delete_on_either_process(clients: tuple[openai.OpenAI, openai.OpenAI]) -> None:
    items: Any = [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]
    first = clients[0].responses.create(model="gpt-chat", input=items)
    second = clients[0].responses.create(model="gpt-chat", input="three", previous_response_id=first.id)
    retrieved = clients[1].responses.retrieve(second.id)
    assert retrieved.id == second.id and retrieved.output_text == second.output_text
    listed = clients[1].responses.input_items.list(second.id)
    texts = [_text(item) for item in listed.data]
    assert texts == ["three", "Hello from the fake upstream", "two", "one"]  # newest first
    page = clients[1].responses.input_items.list(second.id, order="asc", limit=2)
    assert [_text(item) for item in page.data] == ["one", "two"] and page.has_more
    rest = clients[1].responses.input_items.list(second.id, order="asc", after=page.last_id)
    assert [_text(item) for item in rest.data] == [
        "Hello from the fake upstream",
        "three",
    ] and not rest.has_more
    clients[0].responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        clients[1].responses.retrieve(second.id)


def test_unknown_and_unstored_ids_are_404_naming_the_parameter(
    clients: tuple[openai.OpenAI, openai.OpenAI],
) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        clients[0].responses.create(model="gpt-chat", input="hi", previous_response_id="resp_nope")
    assert unknown.value.body["param"] == "previous_response_id"  # type: ignore[index]
    assert unknown.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    unstored = clients[0].responses.create(model="gpt-chat", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        clients[1].responses.retrieve(unstored.id)


def test_another_key_cannot_see_a_stored_response_but_the_master_key_can(
    pair: Pair, clients: tuple[openai.OpenAI, openai.OpenAI]
) -> None:
    mine = clients[0].responses.create(model="gpt-chat", input="secret plans")
    other = _client(pair[1], new_key(pair[1])["key"])
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.input_items.list(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="gpt-chat", input="tell me", previous_response_id=mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(mine.id)
    assert _client(pair[1], MASTER).responses.retrieve(mine.id).id == mine.id


def _text(item: Any) -> str:
    return "".join(part.text for part in item.content)
