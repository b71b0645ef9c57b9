"""OpenAI counts cached and reasoning tokens inside its totals; the buckets must not."""

from __future__ import annotations

from calcifer.domain.usage import Usage
from calcifer.providers.openai import usage_from_openai
from calcifer.providers.upstream_errors import retry_after_seconds


def test_plain_usage() -> None:
    assert usage_from_openai({"prompt_tokens": 10, "completion_tokens": 5}) == Usage(10, 0, 0, 5, 0)


def test_cached_and_reasoning_tokens_are_taken_out_of_the_totals() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 300,
            "prompt_tokens_details": {"cached_tokens": 800},
            "completion_tokens_details": {"reasoning_tokens": 250},
        }
    )
    assert usage == Usage(input_tokens=200, cache_read_tokens=800, output_tokens=50, reasoning_tokens=250)
    assert (usage.prompt_tokens, usage.completion_tokens) == (1000, 300)


def test_null_details_are_zero() -> None:
    usage = usage_from_openai({"prompt_tokens": 3, "completion_tokens": 4, "prompt_tokens_details": None})
    assert usage == Usage(3, 0, 0, 4, 0)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
