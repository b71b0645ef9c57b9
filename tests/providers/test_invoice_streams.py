"""Golden costs of the invoice's extra buckets when they arrive in a stream, in each vendor's
real stream shape: server-tool fees and audio tokens, through the adapter's stream reader and
the gateway's priced stream, compared with a Decimal from the vendor's published rule."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from calcifer.domain.chat import Chunk
from calcifer.providers.anthropic.native import FrameReader
from tests.providers.test_golden_costs import ANTHROPIC_EVENTS, anthropic_chunks, gemini_chunks, priced
from tests.providers.test_invoice_costs import FLASH, GEMINI_3, SONNET

M = Decimal(1_000_000)
K = Decimal(1_000)

# https://platform.claude.com/docs/en/build-with-claude/streaming: message_delta's usage is
# cumulative and, with server tools, carries `server_tool_use` (web searches are billed $10 per
# 1,000, https://platform.claude.com/docs/en/about-claude/pricing "Web search")
SEARCHED_DELTA = {
    "type": "message_delta",
    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
    "usage": {
        "input_tokens": 1200,
        "cache_read_input_tokens": 800,
        "output_tokens": 42,
        "server_tool_use": {"web_search_requests": 2},
    },
}
SEARCHED_EVENTS = [*ANTHROPIC_EVENTS[:4], SEARCHED_DELTA, ANTHROPIC_EVENTS[-1]]
SEARCHED_COST = (1200 * 3 + 800 * Decimal("0.30") + 42 * 15) / M + 2 * 10 / K


def test_anthropic_translated_stream_bills_the_searches_message_delta_reports() -> None:
    stream = asyncio.run(priced(anthropic_chunks(SEARCHED_EVENTS), SONNET))
    assert stream.usage is not None and stream.usage.tool_calls == {"web_search": 2}
    assert stream.cost == SEARCHED_COST


def test_anthropic_passed_through_stream_bills_the_searches_message_delta_reports() -> None:
    frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in SEARCHED_EVENTS]
    chunks: list[Chunk] = list(FrameReader("anthropic").chunks(frames))
    stream = asyncio.run(priced(chunks, SONNET))
    assert stream.cost == SEARCHED_COST


def _gemini(parts: list[dict[str, Any]], usage: dict[str, Any], **candidate: Any) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, **candidate}],
        "usage_metadata": usage,
    }


def test_gemini_stream_bills_the_grounding_its_last_chunk_reports() -> None:
    # https://ai.google.dev/gemini-api/docs/pricing: Gemini 3 bills $14 per 1,000 search queries,
    # 2.5 Flash $35 per 1,000 grounded prompts; the queries arrive with the last chunk
    usage = {"prompt_token_count": 100, "candidates_token_count": 10}
    grounded = {"web_search_queries": ["weather paris", "paris rain", "paris forecast"]}
    responses = [
        _gemini([{"text": "It "}], usage | {"candidates_token_count": 1}),
        _gemini([{"text": "rains."}], usage, finish_reason="STOP", grounding_metadata=grounded),
    ]
    gemini_3 = asyncio.run(priced(gemini_chunks(responses), GEMINI_3))
    assert gemini_3.cost == (100 * 2 + 10 * 12) / M + 3 * 14 / K
    flash = asyncio.run(priced(gemini_chunks(responses), FLASH))
    assert flash.cost == (100 * Decimal("0.30") + 10 * Decimal("2.50")) / M + 35 / K


def test_gemini_stream_bills_audio_prompt_tokens_at_the_audio_price() -> None:
    # https://ai.google.dev/gemini-api/docs/pricing, 2.5 Flash: $0.30 text, $1.00 audio input per 1M
    usage = {
        "prompt_token_count": 1000,
        "prompt_tokens_details": [
            {"modality": "TEXT", "token_count": 400},
            {"modality": "AUDIO", "token_count": 600},
        ],
        "candidates_token_count": 50,
    }
    stream = asyncio.run(
        priced(gemini_chunks([_gemini([{"text": "Heard."}], usage, finish_reason="STOP")]), FLASH)
    )
    assert stream.cost == (400 * Decimal("0.30") + 600 * 1 + 50 * Decimal("2.50")) / M


def test_a_gemini_stream_cut_during_thinking_bills_the_thinking_it_reported() -> None:
    # the o3 case on a provider that reports progress: Gemini repeats its running counts
    # (thoughtsTokenCount included) on each chunk, so a stream cut after 8,000 hidden thinking
    # tokens bills them, at the output price ("including thinking tokens", $2.50 per 1M on 2.5
    # Flash, https://ai.google.dev/gemini-api/docs/pricing), plus the visible text; flagged
    running = {"prompt_token_count": 50, "candidates_token_count": 1, "thoughts_token_count": 8000}
    responses = [
        _gemini([{"text": "Hi"}], running),
        _gemini([{"text": " there."}], running | {"candidates_token_count": 3}, finish_reason="STOP"),
    ]
    stream = asyncio.run(priced(gemini_chunks(responses), FLASH, take=1))
    assert stream.usage is not None and stream.usage.estimated
    assert (stream.usage.reasoning_tokens, stream.usage.output_tokens) == (8000, 1)  # "Hi": 1 token
    assert stream.cost == (50 * Decimal("0.30") + 8001 * Decimal("2.50")) / M


def test_a_gemini_stream_cut_during_visible_thinking_bills_each_thought_once() -> None:
    # with include_thoughts (what reasoning_effort asks for) the thought text arrives too; the
    # running count already has it (1,000 thinking tokens, 4,000 characters): it is not billed
    # again as output estimated from the delivered text
    thinking = {"prompt_token_count": 50, "thoughts_token_count": 1000}
    responses = [
        _gemini([{"text": "t" * 4000, "thought": True}], thinking),
        _gemini([{"text": "Done."}], thinking | {"candidates_token_count": 2}, finish_reason="STOP"),
    ]
    stream = asyncio.run(priced(gemini_chunks(responses), FLASH, take=1))
    assert stream.usage is not None and stream.usage.estimated
    assert (stream.usage.reasoning_tokens, stream.usage.output_tokens) == (1000, 0)
    assert stream.cost == (50 * Decimal("0.30") + 1000 * Decimal("2.50")) / M
