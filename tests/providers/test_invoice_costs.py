"""Golden costs for what an invoice bills beyond plain tokens (issue 14, "Defects").

Each case feeds a usage report, in the vendor's own shape, through the adapter's reader (and,
for streams, its stream translation and the gateway's priced stream) and compares the cost
with a Decimal computed by hand from the vendor's published rule, cited beside it. The
prices are the vendors' list prices of the model named; only the rule matters to the test.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from google.genai import types

from calcifer.domain.pricing import Price, TierPrice
from calcifer.domain.usage import Usage
from calcifer.formats.openai_chat import read_chunk
from calcifer.providers.anthropic import usage_from_anthropic
from calcifer.providers.google import ResponseReader, usage_from_gemini
from calcifer.providers.openai import served_tier, usage_from_openai
from calcifer.providers.openai_responses import output_characters, response_usage
from calcifer.providers.usage_reading import read_usage
from tests.providers.test_golden_costs import ANTHROPIC_EVENTS, anthropic_chunks, gemini_chunks, priced

M = Decimal(1_000_000)
K = Decimal(1_000)

# https://platform.claude.com/docs/en/about-claude/pricing, "Model pricing": Claude Sonnet 4.5
# $3 base input, $3.75 5m cache writes, $6 1h cache writes, $0.30 cache hits, $15 output per
# MTok (1h writes are 2x base input, 5m writes 1.25x). "Web search": "$10 per 1,000 searches,
# plus standard token costs for search-generated content". "Batch processing": 50% off.
SONNET = Price(
    input=Decimal(3),
    cached_input=Decimal("0.30"),
    cache_write=Decimal("3.75"),
    cache_write_1h=Decimal(6),
    output=Decimal(15),
    tool_calls=MappingProxyType({"web_search": Decimal(10)}),
    service_tiers=MappingProxyType({"batch": TierPrice(multiplier=Decimal("0.5"))}),
)
# https://ai.google.dev/gemini-api/docs/pricing, Gemini 2.5 Flash: input $0.30 (text/image/
# video) and $1.00 (audio) per 1M tokens, output $2.50 "including thinking tokens"; "Grounding
# with Google Search": $35 per 1,000 grounded prompts (2.5 family); Gemini 3: $14 per 1,000
# search queries. https://ai.google.dev/api/generate-content#UsageMetadata:
# toolUsePromptTokenCount is the "number of tokens present in tool-use prompt(s)", counted
# beside promptTokenCount (totalTokenCount = prompt + toolUsePrompt + candidates + thoughts),
# and, being prompt tokens, billed at the input price.
FLASH = Price(
    input=Decimal("0.30"),
    input_audio=Decimal("1.00"),
    cached_input=Decimal("0.03"),
    output=Decimal("2.50"),
    tool_calls=MappingProxyType({"google_search_prompt": Decimal(35)}),
)
GEMINI_3 = Price(
    input=Decimal(2), output=Decimal(12), tool_calls=MappingProxyType({"google_search": Decimal(14)})
)
# https://platform.openai.com/docs/pricing: gpt-4o-audio-preview text $2.50 in / $10 out,
# audio $40 in / $80 out per 1M tokens; "Web search": "$10 / 1k calls" plus search content
# tokens at model rates. https://platform.openai.com/docs/guides/flex-processing: flex is
# billed at Batch API rates (o3: $1 in, $0.25 cached, $4 out instead of $2 / $0.50 / $8).
GPT_4O_AUDIO = Price(
    input=Decimal("2.50"), output=Decimal(10), input_audio=Decimal(40), output_audio=Decimal(80)
)
O3 = Price(
    input=Decimal(2),
    cached_input=Decimal("0.50"),
    output=Decimal(8),
    tool_calls=MappingProxyType({"web_search": Decimal(10)}),
    service_tiers=MappingProxyType(
        {
            "flex": TierPrice(price=Price(input=Decimal(1), cached_input=Decimal("0.25"), output=Decimal(4))),
            "priority": TierPrice(multiplier=Decimal("1.75")),
        }
    ),
)


# --- defect 1: Anthropic 1-hour cache writes -----------------------------------------------


def test_anthropic_one_hour_writes_bill_at_the_one_hour_rate() -> None:
    # the issue's own case: recorded $0.37965 (all at the 5m rate), invoiced $0.60465
    report = {
        "input_tokens": 50,
        "cache_creation_input_tokens": 100_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 100_000},
        "output_tokens": 300,
    }
    assert SONNET.cost(usage_from_anthropic(report)) == Decimal("0.60465")
    assert Decimal("0.60465") == (50 * 3 + 100_000 * 6 + 300 * 15) / M


def test_anthropic_mixed_ttl_writes_are_priced_each_at_its_rate() -> None:
    report = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 3000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        "output_tokens": 20,
    }
    usage = usage_from_anthropic(report)
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens, usage.prompt_tokens) == (1000, 2000, 3010)
    assert SONNET.cost(usage) == (10 * 3 + 1000 * Decimal("3.75") + 2000 * 6 + 20 * 15) / M


def test_anthropic_stream_reads_the_ttl_split_from_message_start() -> None:
    start = dict(ANTHROPIC_EVENTS[0])
    start["message"] = {
        **start["message"],
        "usage": {
            "input_tokens": 1200,
            "cache_creation_input_tokens": 4000,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 4000},
            "output_tokens": 1,
        },
    }
    stream = asyncio.run(priced(anthropic_chunks([start, *ANTHROPIC_EVENTS[1:]]), SONNET))
    assert stream.cost == (1200 * 3 + 4000 * 6 + 42 * 15) / M


# --- defect 2: server-tool fees ------------------------------------------------------------


def test_anthropic_web_searches_are_billed_per_thousand() -> None:
    # the case: 3 searches recorded $0.0135 (tokens only), invoiced $0.0435
    report = {"input_tokens": 2000, "output_tokens": 500, "server_tool_use": {"web_search_requests": 3}}
    usage = usage_from_anthropic(report)
    assert usage.tool_calls == {"web_search": 3}
    assert SONNET.cost(usage) == Decimal("0.0435") == (2000 * 3 + 500 * 15) / M + 3 * 10 / K


def test_openai_responses_web_search_calls_are_counted_from_the_output_items() -> None:
    response = {
        "output": [
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "web_search_call", "id": "ws_2", "status": "completed"},
            {"type": "message", "content": []},
        ],
        "usage": {"input_tokens": 9000, "output_tokens": 400},
    }
    usage = response_usage(response)
    assert usage is not None and usage.tool_calls == {"web_search": 2}
    assert O3.cost(usage) == (9000 * 2 + 400 * 8) / M + 2 * 10 / K


def test_gemini_grounding_counts_queries_and_grounded_prompts() -> None:
    raw = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "It rains."}]},
                "finish_reason": "STOP",
                "grounding_metadata": {"web_search_queries": ["weather paris", "paris rain"]},
            }
        ],
        "usage_metadata": {"prompt_token_count": 100, "candidates_token_count": 10},
    }
    reader = ResponseReader("gemini-3-pro")
    reader.read(types.GenerateContentResponse.model_validate(raw))
    usage = reader.usage()
    assert usage is not None and usage.tool_calls == {"google_search": 2, "google_search_prompt": 1}
    # Gemini 3 bills each query; 2.5 Flash each grounded prompt
    assert GEMINI_3.cost(usage) == (100 * 2 + 10 * 12) / M + 2 * 14 / K
    assert FLASH.cost(usage) == (100 * Decimal("0.30") + 10 * Decimal("2.50")) / M + 35 / K


# --- defect 3: Gemini tool-use prompt tokens -----------------------------------------------


def test_gemini_tool_use_prompt_tokens_are_billed_as_input() -> None:
    report = {"prompt_token_count": 1000, "tool_use_prompt_token_count": 4000, "candidates_token_count": 200}
    usage = usage_from_gemini(report)
    assert usage.prompt_tokens == 5000
    assert FLASH.cost(usage) == (5000 * Decimal("0.30") + 200 * Decimal("2.50")) / M


def test_gemini_stream_prices_tool_use_prompt_and_thoughts() -> None:
    responses = [
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finish_reason": "STOP"}
            ],
            "usage_metadata": {
                "prompt_token_count": 300,
                "tool_use_prompt_token_count": 700,
                "candidates_token_count": 20,
                "thoughts_token_count": 80,
            },
        }
    ]
    stream = asyncio.run(priced(gemini_chunks(responses), FLASH))
    assert stream.cost == (1000 * Decimal("0.30") + 100 * Decimal("2.50")) / M


# --- audio ---------------------------------------------------------------------------------


def test_openai_audio_tokens_bill_at_the_audio_prices() -> None:
    report = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "prompt_tokens_details": {"audio_tokens": 800, "cached_tokens": 0},
        "completion_tokens_details": {"audio_tokens": 400, "reasoning_tokens": 0},
    }
    usage = usage_from_openai(report)
    assert (usage.input_tokens, usage.input_audio_tokens, usage.output_tokens, usage.output_audio_tokens) == (
        200,
        800,
        100,
        400,
    )
    assert GPT_4O_AUDIO.cost(usage) == (200 * Decimal("2.50") + 800 * 40 + 100 * 10 + 400 * 80) / M


def test_gemini_audio_prompt_tokens_bill_at_the_audio_input_price() -> None:
    report = {
        "prompt_token_count": 1000,
        "prompt_tokens_details": [
            {"modality": "TEXT", "token_count": 400},
            {"modality": "AUDIO", "token_count": 600},
        ],
        "candidates_token_count": 50,
    }
    usage = usage_from_gemini(report)
    assert FLASH.cost(usage) == (400 * Decimal("0.30") + 600 * 1 + 50 * Decimal("2.50")) / M


# --- service tiers -------------------------------------------------------------------------


def test_openai_flex_answer_is_priced_at_the_flex_list() -> None:
    answer = {"service_tier": "flex", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
    usage = served_tier(usage_from_openai(answer["usage"]), answer)
    assert usage.service_tier == "flex"
    assert O3.cost(usage) == (1000 * 1 + 100 * 4) / M


def test_the_reported_tier_wins_over_the_requested_one() -> None:
    # asked for flex, served (and billed) at the default tier: the list price
    answer = {"service_tier": "default", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
    usage = served_tier(usage_from_openai(answer["usage"]), answer)
    assert O3.cost(usage, "flex") == (1000 * 2 + 100 * 8) / M
    assert O3.cost(Usage(input_tokens=1000, output_tokens=100), "flex") == (1000 * 1 + 100 * 4) / M


def test_a_multiplier_tier_multiplies_the_whole_list_fees_included() -> None:
    usage = Usage(input_tokens=1000, output_tokens=100, tool_calls={"web_search": 1}, service_tier="priority")
    assert O3.cost(usage) == ((1000 * 2 + 100 * 8) / M + 10 / K) * Decimal("1.75")


def test_anthropic_batch_tier_is_half_price() -> None:
    usage = usage_from_anthropic({"input_tokens": 1000, "output_tokens": 100, "service_tier": "batch"})
    assert SONNET.cost(usage) == (1000 * 3 + 100 * 15) / M / 2


# --- defect 7: impossible usage ------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 150}},
            Usage(cache_read_tokens=100, output_tokens=10, clamped=True),
            id="more-cached-than-prompt",
        ),
        pytest.param(
            {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "completion_tokens_details": {"reasoning_tokens": 9},
            },
            Usage(input_tokens=10, reasoning_tokens=5, clamped=True),
            id="more-reasoning-than-completion",
        ),
    ],
)
def test_openai_impossible_usage_is_clamped_to_its_totals(report: dict[str, Any], expected: Usage) -> None:
    # OpenAI counts cached inside prompt_tokens and reasoning inside completion_tokens: the
    # totals are what it bills, so the subsets give way
    usage = read_usage(usage_from_openai, report)
    assert usage == expected
    assert O3.cost(usage) >= 0


def test_gemini_impossible_cache_is_clamped() -> None:
    usage = read_usage(usage_from_gemini, {"prompt_token_count": 10, "cached_content_token_count": 50})
    assert usage == Usage(cache_read_tokens=10, clamped=True)


def test_anthropic_one_hour_split_larger_than_its_total_is_clamped() -> None:
    report = {
        "input_tokens": 5,
        "cache_creation_input_tokens": 100,
        "cache_creation": {"ephemeral_1h_input_tokens": 300},
        "output_tokens": 1,
    }
    usage = read_usage(usage_from_anthropic, report)
    assert usage == Usage(input_tokens=5, cache_write_1h_tokens=100, output_tokens=1, clamped=True)


def test_a_clamped_openai_stream_usage_chunk_is_priced_clamped() -> None:
    usage = read_usage(
        usage_from_openai,
        {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 20}},
    )
    assert usage is not None
    stream = asyncio.run(priced([read_chunk({"choices": [], "usage": {}}, usage=usage)], O3))
    assert stream.usage is not None and stream.usage.clamped
    assert stream.cost == (10 * Decimal("0.50") + 1 * 8) / M


# --- OpenAI cache writes -------------------------------------------------------------------
# https://learn.microsoft.com/azure/foundry/openai/how-to/prompt-caching: "On gpt-5.6 and later
# models, cache writes are billed in addition to discounted cache reads" and "Prompt cache pricing
# is the same for both retention policies" (in-memory and 24h extended: no bucket of its own).
# The Responses API reports them as usage.input_tokens_details.cache_write_tokens, a part of
# input_tokens (https://github.com/coder/mux/issues/3705, observed live), 1.25x the input rate.
GPT_56 = Price(
    input=Decimal(5), cached_input=Decimal("0.50"), cache_write=Decimal("6.25"), output=Decimal(30)
)


def test_openai_cache_writes_are_a_part_of_the_input_billed_at_the_write_price() -> None:
    response = {
        "usage": {
            "input_tokens": 4000,
            "input_tokens_details": {"cache_write_tokens": 3207},
            "output_tokens": 10,
        }
    }
    usage = response_usage(response)
    assert usage is not None and (usage.input_tokens, usage.cache_write_tokens) == (793, 3207)
    assert GPT_56.cost(usage) == (793 * 5 + 3207 * Decimal("6.25") + 10 * 30) / M
    chat = usage_from_openai(
        {
            "prompt_tokens": 4000,
            "completion_tokens": 10,
            "prompt_tokens_details": {"cache_write_tokens": 3207},
        }
    )
    assert GPT_56.cost(chat) == GPT_56.cost(usage)


# --- defect 6: a cut stream uses what the provider reported before the cut -----------------


def test_a_stream_cut_during_thinking_keeps_the_reported_writes_and_counts_the_thinking() -> None:
    # message_start reported the input side (1h writes included); the thinking deltas that
    # arrived before the cut (400 characters ≈ 100 tokens) are billed as output (Anthropic
    # bills thinking as output tokens); the estimate is flagged
    start = dict(ANTHROPIC_EVENTS[0])
    start["message"] = {
        **start["message"],
        "usage": {
            "input_tokens": 1200,
            "cache_creation_input_tokens": 4000,
            "cache_creation": {"ephemeral_1h_input_tokens": 4000},
            "output_tokens": 1,
        },
    }
    thinking = [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "t" * 400},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "more"}},
    ]
    stream = asyncio.run(priced(anthropic_chunks([start, *thinking]), SONNET, take=2))
    assert stream.usage == Usage(
        input_tokens=1200, cache_write_1h_tokens=4000, output_tokens=100, estimated=True
    )
    assert stream.cost == (1200 * 3 + 4000 * 6 + 100 * 15) / M


def test_a_responses_answer_without_usage_is_estimated_on_its_text_not_its_json() -> None:
    output = [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "r" * 8}]},
        {"type": "message", "content": [{"type": "output_text", "text": "x" * 40, "annotations": []}]},
        {"type": "function_call", "name": "f", "arguments": '{"a":1}', "call_id": "c"},
    ]
    assert output_characters(output) == 8 + 40 + 7
