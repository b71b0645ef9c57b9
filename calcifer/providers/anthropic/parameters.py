"""What the `anthropic` adapter serves, OpenAI chat parameter by parameter, and the Messages
API fields it passes through as sent."""

from __future__ import annotations

from calcifer.domain.dialect import Dialect
from calcifer.domain.provider import OtherFields, ParameterPolicy, refused, translated
from calcifer.providers.parameters import (
    content_parts,
    function_calls,
    function_tools,
    inert,
    only,
    response_format_types,
    tool_choices,
)

__all__ = ["NATIVE_FIELDS", "PARAMETERS", "SERVICE_TIERS", "THINKING_BUDGETS"]

# Extended-thinking budget per OpenAI reasoning effort (Anthropic's minimum is 1,024).
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576, "max": 32768}
# Messages API parameters OpenAI has no name for, passed through as the client sent them
# (each is checked against the installed SDK's MessageCreateParams by the tests).
NATIVE_FIELDS = frozenset(
    {
        "thinking",
        "output_config",
        "cache_control",
        "inference_geo",
        "speed",
        "user_profile_id",
        "workspace_id",
    }
)

# The API version the SDK sends (2026-10-21) refuses them even at their default values.
_NO_SAMPLING = "the Messages API accepts no sampling parameters (temperature, top_p, top_k)"
SERVICE_TIERS = {"auto": "auto", "default": "standard_only"}

PARAMETERS = ParameterPolicy(
    {
        "messages": translated(
            "system/developer → `system`; turns merged to alternate; tool results → `tool_result` "
            "blocks; images → `image` blocks",
            content_parts("image_url"),
            "text and image_url parts",
        ),
        "model": translated("the catalog's `upstream_model`"),
        "audio": refused("Claude does not generate audio"),
        "frequency_penalty": inert("frequency_penalty", "the Messages API has no penalties"),
        "presence_penalty": inert("presence_penalty", "the Messages API has no penalties"),
        "function_call": translated("`tool_choice`, as tool_choice", function_calls, "auto, none, a name"),
        "functions": translated("`tools` with `input_schema`"),
        "logit_bias": inert("logit_bias", "the Messages API has no logit bias"),
        "logprobs": inert("logprobs", "the Messages API returns no log probabilities"),
        "top_logprobs": inert("top_logprobs", "the Messages API returns no log probabilities"),
        "max_completion_tokens": translated("`max_tokens` (thinking included, as in OpenAI)"),
        "max_tokens": translated("`max_tokens`; the catalog's `max_output_tokens` when absent"),
        "metadata": translated("kept by the gateway (recorded with the request), not sent"),
        "modalities": inert("modalities", "Claude answers in text only"),
        "moderation": refused("the Messages API has no moderation settings"),
        "n": inert("n", "the Messages API returns one choice"),
        "parallel_tool_calls": translated("`tool_choice.disable_parallel_tool_use` when false"),
        "prediction": refused("the Messages API has no predicted outputs"),
        "prompt_cache_key": refused("Anthropic caches by `cache_control` markers, not by key"),
        "prompt_cache_options": refused("Anthropic caches by `cache_control` markers"),
        "prompt_cache_retention": refused("Anthropic sets cache lifetimes on `cache_control` markers"),
        "reasoning_effort": translated(
            "`thinking: {type: enabled, budget_tokens}` (minimal 1024, low 2048, medium 8192, "
            "high 16384, xhigh 24576, max 32768, at most half of `max_tokens`); none → disabled",
            only("none", "minimal", "low", "medium", "high", "xhigh", "max"),
            "none, minimal, low, medium, high, xhigh, max",
        ),
        "response_format": translated(
            "json_schema → `output_config.format` (structured outputs); text → nothing to do",
            response_format_types("text", "json_schema"),
            "text, json_schema (Claude has no schema-less JSON mode)",
        ),
        "safety_identifier": translated("`metadata.user_id`"),
        "user": translated("`metadata.user_id` (when no `safety_identifier`)"),
        "seed": refused("the Messages API has no seed"),
        "service_tier": translated(
            "`service_tier`: auto → auto, default → standard_only", only("auto", "default"), "auto, default"
        ),
        "stop": translated("`stop_sequences`"),
        "store": inert("store", "Anthropic keeps no completions for distillation or evals"),
        "stream": translated("`stream`; events read into chat chunks"),
        "stream_options": translated("honoured by the gateway (usage is always reported)"),
        "temperature": refused(_NO_SAMPLING),
        "top_p": refused(_NO_SAMPLING),
        "tool_choice": translated(
            "auto/none/required/named → auto/none/any/tool", tool_choices, "auto, none, required, a function"
        ),
        "tools": translated("`tools` with `input_schema`", function_tools, "function tools"),
        "verbosity": refused("the Messages API has no verbosity setting"),
        "web_search_options": refused("web search is a server tool on Anthropic, not translated"),
    },
    OtherFields(NATIVE_FIELDS, "the Messages API's own fields in NATIVE_FIELDS pass through; others refused"),
    # A Messages client's request goes as sent (model mapped), with its own anthropic-* headers.
    native_dialects=frozenset({Dialect.ANTHROPIC_MESSAGES}),
)
