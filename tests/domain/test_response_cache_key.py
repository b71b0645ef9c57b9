"""The cache key: equal for requests that must get the same answer, different for any change
that could change it, and never shared outside its scope; and which requests may be cached."""

from __future__ import annotations

from typing import Any

import pytest

from calcifer.domain.chat import ChatRequest
from calcifer.domain.dialect import Dialect, NativeRequest
from calcifer.domain.response_cache import CachePolicy, CacheScope, cache_key, refusal_reason, scope_id

BODY: dict[str, Any] = {
    "model": "fast",
    "messages": [{"role": "user", "content": "hi"}],
    "temperature": 0,
    "max_tokens": 20,
}
SCOPE = "key:k1"


def _key(body: dict[str, Any], model: str = "gpt-x", scope: str = SCOPE, stream: bool = False) -> str:
    return cache_key(ChatRequest(body["model"], body, stream=stream), model, scope)


def test_who_asked_tags_and_field_order_do_not_change_the_key() -> None:
    noise = {"user": "u", "metadata": {"team": "t"}, "store": True, "safety_identifier": "s"}
    reordered = dict(reversed(list(BODY.items())))
    assert _key(BODY) == _key(BODY | noise) == _key(reordered)
    assert _key(BODY) == _key(BODY | {"model": "fast-alias"})  # the served model is what counts


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"tool_choice": "required"},
        {"response_format": {"type": "json_object"}},
        {"stop": ["x"]},
        {"max_tokens": 21},
        {"reasoning_effort": "high"},
        {"messages": [{"role": "user", "content": "hi!"}]},
    ],
)
def test_anything_that_could_change_the_answer_changes_the_key(change: dict[str, Any]) -> None:
    assert _key(BODY) != _key(BODY | change)


def test_model_scope_and_shape_change_the_key() -> None:
    assert _key(BODY) != _key(BODY, model="gpt-y")
    assert _key(BODY) != _key(BODY, scope="key:k2")
    assert _key(BODY) != _key(BODY, stream=True)


def test_a_native_request_is_keyed_by_its_own_body_headers_and_dialect() -> None:
    def native(body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
        request = NativeRequest(Dialect.ANTHROPIC_MESSAGES, body, headers or {})
        chat = ChatRequest("fast", BODY, dialect=Dialect.ANTHROPIC_MESSAGES, native=request)
        return cache_key(chat, "claude-x", SCOPE)

    anthropic = {"model": "fast", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    assert native(anthropic) == native(anthropic | {"metadata": {"user_id": "u"}})
    assert native(anthropic) != native(anthropic | {"system": "be brief"})
    assert native(anthropic) != native(anthropic, {"anthropic-beta": "x"})
    assert native(anthropic) != _key(BODY, model="claude-x")


def test_scope_ids_per_key_team_and_global() -> None:
    assert scope_id(CacheScope.KEY, "k1", "t1") == "key:k1"
    assert scope_id(CacheScope.TEAM, "k1", "t1") == scope_id(CacheScope.TEAM, "k2", "t1") == "team:t1"
    assert scope_id(CacheScope.TEAM, "k1", None) == "key:k1"
    assert scope_id(CacheScope.GLOBAL, "k1", "t1") == scope_id(CacheScope.GLOBAL, None, None)


def test_sampled_and_multiple_choice_requests_are_cached_only_when_opted_in() -> None:
    on = CachePolicy(enabled=True)
    assert refusal_reason(ChatRequest("m", BODY), CachePolicy()) == "disabled"
    assert refusal_reason(ChatRequest("m", BODY), on) is None
    unset = {k: v for k, v in BODY.items() if k != "temperature"}
    assert refusal_reason(ChatRequest("m", unset), on) == "sampled"  # the provider's default, 1
    assert refusal_reason(ChatRequest("m", BODY | {"temperature": 0.7}), on) == "sampled"
    warm = ChatRequest("m", BODY | {"temperature": 0.7})
    assert refusal_reason(warm, CachePolicy(True, sampled=True)) is None
    assert refusal_reason(ChatRequest("m", BODY | {"n": 2}), on) == "n>1"
    two = ChatRequest("m", BODY | {"n": 2})
    assert refusal_reason(two, CachePolicy(True, multiple_choices=True)) is None


def test_nested_field_order_does_not_change_the_key_and_huge_integers_are_keyed() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": 2}}}
    reordered = {"function": {"parameters": {"a": 2, "b": 1}, "name": "f"}, "type": "function"}
    assert _key(BODY | {"tools": [tool]}) == _key(BODY | {"tools": [reordered]})
    huge = 2**70  # beyond what orjson writes: the standard library keys it
    assert _key(BODY | {"seed": huge}) != _key(BODY | {"seed": huge + 1})
