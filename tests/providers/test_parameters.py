"""One conformance row per OpenAI chat parameter per provider, through the real gateway.

The rows come from the installed `openai` SDK's parameter list and from each adapter's
table: a parameter the SDK gains, or a table lacks, fails here. Forwarded parameters must
reach the fake upstream as sent, translated ones arrive translated, refused ones are a 400
`unsupported_feature` naming the parameter and the model, with no upstream call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from anthropic.types import message_create_params
from google.genai import types as genai_types
from openai.types.chat import completion_create_params

from calcifer.domain.provider import CHAT_PARAMETERS, Handling, ParameterPolicy, ParameterRule
from calcifer.providers import anthropic as anthropic_adapter
from calcifer.providers import echo as echo_adapter
from calcifer.providers import google as google_adapter
from calcifer.providers import openai as openai_adapter
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.upstream import FakeUpstream, Turn
from tests.gateway_process import GatewayProcess

SDK_PARAMETERS = frozenset(
    completion_create_params.CompletionCreateParamsStreaming.__required_keys__
    | completion_create_params.CompletionCreateParamsStreaming.__optional_keys__
)
TABLES: dict[str, ParameterPolicy] = {
    "openai": openai_adapter.PARAMETERS,
    "anthropic": anthropic_adapter.PARAMETERS,
    "google": google_adapter.PARAMETERS,
    "echo": echo_adapter.PARAMETERS,
}
MODELS = {"openai": "gpt-4o", "anthropic": "claude-test", "google": "gemini-test", "echo": "echo4"}
FUNCTION = {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TOOL = {"type": "function", "function": FUNCTION}
IMAGE = "data:image/png;base64,iVBORw0KGgo="
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}

# parameter → (a value that asks for something, other fields the request needs with it)
SAMPLES: dict[str, tuple[Any, dict[str, Any]]] = {
    "audio": ({"voice": "alloy", "format": "wav"}, {}),
    "frequency_penalty": (0.5, {}),
    "function_call": ({"name": "get_weather"}, {"functions": [FUNCTION]}),
    "functions": ([FUNCTION], {}),
    "logit_bias": ({"50256": -100}, {}),
    "logprobs": (True, {}),
    "max_completion_tokens": (77, {}),
    "max_tokens": (55, {}),
    "messages": (
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what"},
                    {"type": "image_url", "image_url": {"url": IMAGE}},
                ],
            }
        ],
        {},
    ),
    "metadata": ({"team": "search"}, {}),
    "modalities": (["text", "audio"], {}),
    "model": (None, {}),  # each provider's test model
    "moderation": ({"model": "omni-moderation-latest"}, {}),
    "n": (2, {}),
    "parallel_tool_calls": (False, {"tools": [TOOL]}),
    "prediction": ({"type": "content", "content": "draft"}, {}),
    "presence_penalty": (0.5, {}),
    "prompt_cache_key": ("key-1", {}),
    "prompt_cache_options": ({"mode": "implicit"}, {}),
    "prompt_cache_retention": ("24h", {}),
    "reasoning_effort": ("low", {"max_completion_tokens": 8192}),
    "response_format": ({"type": "json_schema", "json_schema": {"name": "n", "schema": SCHEMA}}, {}),
    "safety_identifier": ("hashed-user-1", {}),
    "seed": (7, {}),
    "service_tier": ("default", {}),
    "stop": (["END"], {}),
    "store": (True, {}),
    "stream": (True, {}),
    "stream_options": ({"include_usage": True}, {"stream": True}),
    "temperature": (0.5, {}),
    "tool_choice": ("required", {"tools": [TOOL]}),
    "tools": ([TOOL], {}),
    "top_logprobs": (3, {"logprobs": True}),
    "top_p": (0.9, {}),
    "user": ("user-1", {}),
    "verbosity": ("low", {}),
    "web_search_options": ({"search_context_size": "low"}, {}),
}


def _config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = body.get("generationConfig") or {}
    return config


Seen = Callable[[FakeUpstream], bool]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _json_names(value: Any) -> Any:
    """Google's JSON takes fields in lowerCamelCase or as declared (the SDK sends some
    nested ones snake_case); compare in one spelling."""
    if isinstance(value, dict):
        return {_camel(key): _json_names(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_names(item) for item in value]
    return value


def _body(fake: FakeUpstream) -> dict[str, Any]:
    body: dict[str, Any] = fake.last.body
    return _json_names(body) if isinstance(fake, FakeGemini) else body


# (provider, parameter) → what the fake upstream must have received for the sample.
TRANSLATIONS: dict[tuple[str, str], Seen] = {
    ("openai", "model"): lambda f: _body(f)["model"] == "gpt-4o-upstream",
    ("openai", "stream"): lambda f: _body(f)["stream"] is True,
    ("openai", "stream_options"): lambda f: _body(f)["stream_options"] == {"include_usage": True},
    ("anthropic", "messages"): lambda f: f.turns() == [Turn("user", "what [image]")],
    ("anthropic", "model"): lambda f: _body(f)["model"] == "claude-sonnet-4-5",
    ("anthropic", "function_call"): lambda f: (
        _body(f)["tool_choice"] == {"type": "tool", "name": "get_weather"}
    ),
    ("anthropic", "functions"): lambda f: _body(f)["tools"][0]["name"] == "get_weather",
    ("anthropic", "max_completion_tokens"): lambda f: _body(f)["max_tokens"] == 77,
    ("anthropic", "max_tokens"): lambda f: _body(f)["max_tokens"] == 55,
    ("anthropic", "metadata"): lambda f: "metadata" not in _body(f),
    ("anthropic", "parallel_tool_calls"): lambda f: (
        _body(f)["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    ),
    ("anthropic", "reasoning_effort"): lambda f: (
        (_body(f)["thinking"], _body(f)["max_tokens"]) == ({"type": "enabled", "budget_tokens": 2048}, 8192)
    ),
    ("anthropic", "response_format"): lambda f: (
        _body(f)["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    ),
    ("anthropic", "safety_identifier"): lambda f: _body(f)["metadata"] == {"user_id": "hashed-user-1"},
    ("anthropic", "user"): lambda f: _body(f)["metadata"] == {"user_id": "user-1"},
    ("anthropic", "service_tier"): lambda f: _body(f)["service_tier"] == "standard_only",
    ("anthropic", "stop"): lambda f: _body(f)["stop_sequences"] == ["END"],
    ("anthropic", "stream"): lambda f: _body(f)["stream"] is True,
    ("anthropic", "stream_options"): lambda f: _body(f)["stream"] is True,
    ("anthropic", "tool_choice"): lambda f: _body(f)["tool_choice"] == {"type": "any"},
    ("anthropic", "tools"): lambda f: _body(f)["tools"][0]["input_schema"] == FUNCTION["parameters"],
    ("google", "messages"): lambda f: f.turns() == [Turn("user", "what [image]")],
    ("google", "model"): lambda f: f.last.body["_model"] == "gemini-2.5-flash",
    # Not sent (Gemini has no end-user field); the gateway records it in the ledger and log line.
    ("google", "safety_identifier"): lambda f: "hashed-user-1" not in json.dumps(_body(f)),
    ("google", "user"): lambda f: "user-1" not in json.dumps(_body(f)),
    ("google", "function_call"): lambda f: (
        _body(f)["toolConfig"]["functionCallingConfig"]
        == {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    ),
    ("google", "functions"): lambda f: (
        _body(f)["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    ),
    ("google", "max_completion_tokens"): lambda f: _config(_body(f))["maxOutputTokens"] == 77,
    ("google", "max_tokens"): lambda f: _config(_body(f))["maxOutputTokens"] == 55,
    ("google", "metadata"): lambda f: "metadata" not in _body(f) and "labels" not in _body(f),
    ("google", "reasoning_effort"): lambda f: (
        _config(_body(f))["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    ),
    ("google", "response_format"): lambda f: _config(_body(f))["responseJsonSchema"] == SCHEMA,
    ("google", "service_tier"): lambda f: _body(f)["serviceTier"] == "standard",
    ("google", "stop"): lambda f: _config(_body(f))["stopSequences"] == ["END"],
    ("google", "stream"): lambda f: f.last.path.endswith(":streamGenerateContent"),
    ("google", "stream_options"): lambda f: f.last.path.endswith(":streamGenerateContent"),
    ("google", "tool_choice"): lambda f: _body(f)["toolConfig"]["functionCallingConfig"] == {"mode": "ANY"},
    ("google", "tools"): lambda f: (
        _body(f)["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == FUNCTION["parameters"]
    ),
}


def _forwarded(provider: str, name: str, value: Any) -> Seen:
    if provider == "openai":
        return lambda f: _body(f)[name] == value
    assert provider == "google", f"{provider} forwards nothing under the same name"
    return lambda f: _config(_body(f))[_camel(name)] == value


def test_the_gateway_knows_every_parameter_of_the_installed_openai_sdk() -> None:
    assert CHAT_PARAMETERS == SDK_PARAMETERS
    assert set(SAMPLES) == SDK_PARAMETERS


@pytest.mark.parametrize("provider", TABLES)
def test_each_adapter_table_has_a_row_for_every_sdk_parameter(provider: str) -> None:
    assert set(TABLES[provider].rules) == SDK_PARAMETERS


def test_native_fields_are_the_vendors_own_parameters_and_not_openais() -> None:
    anthropic_keys = (
        message_create_params.MessageCreateParamsBase.__required_keys__
        | message_create_params.MessageCreateParamsBase.__optional_keys__
    )
    assert anthropic_keys >= anthropic_adapter.NATIVE_FIELDS
    assert set(genai_types.GenerateContentConfig.model_fields) >= google_adapter.NATIVE_FIELDS
    assert not (anthropic_adapter.NATIVE_FIELDS | google_adapter.NATIVE_FIELDS) & CHAT_PARAMETERS


@pytest.fixture
def fakes(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini
) -> dict[str, FakeUpstream]:
    for fake in (fake_openai, fake_anthropic, fake_gemini):
        fake.reset()
    return {"openai": fake_openai, "anthropic": fake_anthropic, "google": fake_gemini}


def _send(gateway: GatewayProcess, provider: str, fields: dict[str, Any]) -> httpx.Response:
    body = {"model": MODELS[provider], "messages": [{"role": "user", "content": "hi"}], **fields}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)


ROWS = [(provider, name) for provider in TABLES for name in sorted(SDK_PARAMETERS)]


@pytest.mark.parametrize(("provider", "name"), ROWS, ids=[f"{p}-{n}" for p, n in ROWS])
def test_parameter_row(
    gateway: GatewayProcess, fakes: dict[str, FakeUpstream], provider: str, name: str
) -> None:
    value, extra = SAMPLES[name]
    rule = TABLES[provider].rules[name]
    if provider == "echo":  # the echo refuses tools; the row is about `name`, not them
        extra = {key: item for key, item in extra.items() if not TABLES["echo"].rules[key].refuses(item)}
    fields = {**({name: value} if value is not None else {}), **extra}
    response = _send(gateway, provider, fields)
    fake = fakes.get(provider)
    if rule.refuses(value):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("unsupported_feature", name)
        assert MODELS[provider] in error["message"]
        assert fake is None or not fake.received, "a refused parameter must not reach the provider"
        return
    assert response.status_code == 200, response.text
    if fake is None:
        return  # the echo serves offline: accepted is all there is to see
    if rule.handling is Handling.FORWARDED:
        seen = _forwarded(provider, name, value)
    else:
        assert (provider, name) in TRANSLATIONS, f"no conformance check for {provider} translating {name}"
        seen = TRANSLATIONS[(provider, name)]
    assert seen(fake), f"{provider} did not receive {name} as its table says: {fake.last.body}"


@pytest.mark.parametrize(
    ("provider", "fields"),
    [
        ("anthropic", {"n": 1, "logprobs": False, "modalities": ["text"], "presence_penalty": 0}),
        ("google", {"n": 1, "top_logprobs": 0, "store": False, "logit_bias": {}}),
        ("echo", {"n": 1, "response_format": {"type": "text"}, "tool_choice": "none"}),
    ],
)
def test_values_that_ask_for_nothing_are_accepted(
    gateway: GatewayProcess, fakes: dict[str, FakeUpstream], provider: str, fields: dict[str, Any]
) -> None:
    assert _send(gateway, provider, fields).status_code == 200


@pytest.mark.parametrize(
    ("provider", "fields", "param"),
    [
        ("anthropic", {"response_format": {"type": "json_object"}}, "response_format"),
        ("anthropic", {"service_tier": "flex"}, "service_tier"),
        ("google", {"reasoning_effort": "extreme"}, "reasoning_effort"),
        ("google", {"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools"),
        (
            "echo",
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": IMAGE}}]}]},
            "messages",
        ),
    ],
)
def test_values_a_provider_cannot_serve_are_refused(
    gateway: GatewayProcess, fakes: dict[str, FakeUpstream], provider: str, fields: dict[str, Any], param: str
) -> None:
    response = _send(gateway, provider, fields)
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (
        "unsupported_feature",
        param,
    )
    assert provider == "echo" or not fakes[provider].received


def test_fields_outside_openais_list_follow_each_providers_rule(
    gateway: GatewayProcess, fakes: dict[str, FakeUpstream]
) -> None:
    # OpenAI-compatible servers have their own extensions: forwarded.
    assert _send(gateway, "openai", {"top_k": 5, "repetition_penalty": 1.1}).status_code == 200
    assert (_body(fakes["openai"])["top_k"], _body(fakes["openai"])["repetition_penalty"]) == (5, 1.1)
    # The Messages API's own fields pass through; one it does not have is refused, not dropped.
    thinking = {"type": "enabled", "budget_tokens": 1024}
    assert _send(gateway, "anthropic", {"thinking": thinking, "max_tokens": 4000}).status_code == 200
    assert _body(fakes["anthropic"])["thinking"] == thinking
    refused = _send(gateway, "anthropic", {"top_k": 5})
    assert (refused.status_code, refused.json()["error"]["param"]) == (400, "top_k")
    # Gemini's generation-config fields pass through; others are refused.
    assert _send(gateway, "google", {"top_k": 5}).status_code == 200
    assert _config(_body(fakes["google"]))["topK"] == 5
    refused = _send(gateway, "google", {"candidate_count": 2})
    assert (refused.status_code, refused.json()["error"]["param"]) == (400, "candidate_count")


def test_a_native_field_and_the_translation_that_makes_it_cannot_both_be_sent(
    gateway: GatewayProcess, fakes: dict[str, FakeUpstream]
) -> None:
    response = _send(
        gateway,
        "anthropic",
        {
            "reasoning_effort": "low",
            "max_tokens": 8192,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
        },
    )
    assert (response.status_code, response.json()["error"]["param"]) == (400, "thinking")
    assert not fakes["anthropic"].received
    response = _send(
        gateway, "google", {"reasoning_effort": "low", "thinking_config": {"thinking_budget": 512}}
    )
    assert (response.status_code, response.json()["error"]["param"]) == (400, "thinking_config")
    assert not fakes["google"].received


def test_anthropic_thinking_budget_keeps_room_for_the_answer(
    gateway: GatewayProcess, fakes: dict[str, FakeUpstream]
) -> None:
    # high is 16,384 tokens of thinking; under max_tokens 10,000 the budget takes half.
    assert _send(gateway, "anthropic", {"reasoning_effort": "high", "max_tokens": 10000}).status_code == 200
    assert _body(fakes["anthropic"])["thinking"] == {"type": "enabled", "budget_tokens": 5000}
    # The catalog gives claude-test 1,000 output tokens: too few to think in.
    too_small = _send(gateway, "anthropic", {"reasoning_effort": "low"})
    assert (too_small.status_code, too_small.json()["error"]["param"]) == (400, "reasoning_effort")
    assert _send(gateway, "anthropic", {"reasoning_effort": "none"}).status_code == 200
    assert _body(fakes["anthropic"])["thinking"] == {"type": "disabled"}


def test_legacy_function_messages_reach_anthropic_as_tool_use(
    gateway: GatewayProcess, fakes: dict[str, FakeUpstream]
) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": "{}"}},
        {"role": "function", "name": "get_weather", "content": "22C"},
    ]
    assert _send(gateway, "anthropic", {"messages": messages, "functions": [FUNCTION]}).status_code == 200
    assert fakes["anthropic"].turns()[1:] == [
        Turn("assistant", "call get_weather({})"),
        Turn("user", "result(get_weather)=22C"),
    ]


def test_a_table_missing_a_parameter_cannot_be_built() -> None:
    rules = dict(openai_adapter.PARAMETERS.rules)
    del rules["seed"]
    with pytest.raises(ValueError, match="seed"):
        ParameterPolicy(rules)


def render_table() -> str:
    """The parameter table of docs/providers.md, from the adapters' own tables."""

    def cell(rule: ParameterRule) -> str:
        text = rule.handling.value
        if rule.handling is not Handling.FORWARDED or rule.detail != "as sent":
            text += ": " + rule.detail
        if rule.values:
            text += f" (accepted: {rule.values})"
        return text.replace("|", "\\|")

    lines = [
        "| parameter | " + " | ".join(f"`{provider}`" for provider in TABLES) + " |",
        "|---" * (len(TABLES) + 1) + "|",
    ]
    for name in sorted(CHAT_PARAMETERS):
        lines.append(
            f"| `{name}` | " + " | ".join(cell(table.rules[name]) for table in TABLES.values()) + " |"
        )
    lines.append("| *other fields* | " + " | ".join(t.other_fields.detail for t in TABLES.values()) + " |")
    return "\n".join(lines) + "\n"


def test_the_docs_show_the_adapters_tables() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "providers.md").read_text()
    assert render_table() in docs, "regenerate with: .venv/bin/python -m tests.providers.test_parameters"


if __name__ == "__main__":
    print(render_table(), end="")
