"""What the `google` adapter serves, OpenAI chat parameter by parameter, and the Gemini
generation-config fields it passes through as sent."""

from __future__ import annotations

from calcifer.domain.provider import OtherFields, ParameterPolicy, forwarded, refused, translated
from calcifer.providers.google.embeddings import EMBEDDINGS
from calcifer.providers.parameters import (
    content_parts,
    function_calls,
    function_tools,
    inert,
    only,
    response_format_types,
    tool_choices,
)

_RECORDED_ONLY = "recorded by the gateway (ledger, log line), not sent: the Gemini API takes no end-user id"

__all__ = ["NATIVE_FIELDS", "PARAMETERS", "SERVICE_TIERS", "THINKING_BUDGETS"]

# Thinking budget per OpenAI reasoning effort; 0 turns thinking off (models that must think,
# such as 2.5 Pro, refuse it). The SDK's `thinking_level` is not used: Gemini 2.5 models do
# not take it, and every thinking model takes a budget.
THINKING_BUDGETS = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 32768,
}
SERVICE_TIERS = {"default": "standard", "flex": "flex", "priority": "priority", "fast": "priority"}
# Generation-config fields OpenAI has no name for, passed through as the client sent them
# (snake_case, as the SDK names them; each is checked against the SDK's GenerateContentConfig
# by the tests). Fields that would change the answer's shape (candidate_count, logprobs,
# response_modalities...) are not among them: the reader could not carry them back.
NATIVE_FIELDS = frozenset(
    {"top_k", "thinking_config", "safety_settings", "cached_content", "media_resolution", "labels"}
)


PARAMETERS = ParameterPolicy(
    {
        "messages": translated(
            "system/developer → `system_instruction`; user/assistant → user/model contents; "
            "images → `inline_data` / `file_data`; tool calls and results → function parts",
            content_parts("image_url"),
            "text and image_url parts",
        ),
        "model": translated("the catalog's `upstream_model`, in the URL"),
        "audio": refused("the adapter asks Gemini for text only"),
        "frequency_penalty": forwarded("generation config `frequency_penalty`"),
        "presence_penalty": forwarded("generation config `presence_penalty`"),
        "seed": forwarded("generation config `seed`"),
        "temperature": forwarded("generation config `temperature`"),
        "top_p": forwarded("generation config `top_p`"),
        "function_call": translated(
            "function calling mode, as tool_choice", function_calls, "auto, none, a name"
        ),
        "functions": translated("function declarations"),
        "logit_bias": inert("logit_bias", "Gemini has no logit bias"),
        "logprobs": inert(
            "logprobs", "Gemini's `response_logprobs` is not read back into the answer by this adapter"
        ),
        "top_logprobs": inert(
            "top_logprobs", "Gemini's `logprobs` is not read back into the answer by this adapter"
        ),
        "max_completion_tokens": translated("generation config `max_output_tokens`"),
        "max_tokens": translated("generation config `max_output_tokens`"),
        "metadata": translated("kept by the gateway (recorded with the request), not sent"),
        "modalities": inert("modalities", "the adapter asks Gemini for text only"),
        "moderation": refused("Gemini's safety settings are its own (pass `safety_settings`)"),
        "n": inert("n", "the adapter reads one candidate (`candidate_count` is not used)"),
        "parallel_tool_calls": inert(
            "parallel_tool_calls", "Gemini cannot be told to call one tool at a time"
        ),
        "prediction": refused("Gemini has no predicted outputs"),
        "prompt_cache_key": refused("Gemini caches implicitly or through `cached_content`"),
        "prompt_cache_options": refused("Gemini caches implicitly or through `cached_content`"),
        "prompt_cache_retention": refused("Gemini caches implicitly or through `cached_content`"),
        "reasoning_effort": translated(
            "`thinking_config.thinking_budget` (none 0, minimal 512, low 1024, medium 8192, high 16384, "
            "xhigh 24576, max 32768) with `include_thoughts`",
            only(*THINKING_BUDGETS),
            ", ".join(THINKING_BUDGETS),
        ),
        "response_format": translated(
            "json_object → `response_mime_type` application/json; json_schema → that and "
            "`response_json_schema`",
            response_format_types("text", "json_object", "json_schema"),
            "text, json_object, json_schema",
        ),
        "safety_identifier": translated(_RECORDED_ONLY),
        "user": translated(_RECORDED_ONLY),
        "service_tier": translated(
            "generation config `service_tier`: default → standard, flex → flex, priority and fast → "
            "priority; auto → Gemini's default",
            only("auto", *SERVICE_TIERS),
            "auto, default, flex, priority, fast",
        ),
        "stop": translated("generation config `stop_sequences`"),
        "store": inert("store", "Gemini keeps no completions for distillation or evals"),
        "stream": translated("`streamGenerateContent`; responses read into chat chunks"),
        "stream_options": translated("honoured by the gateway (usage is always reported)"),
        "tool_choice": translated(
            "function calling mode AUTO/NONE/ANY (+ allowed name)",
            tool_choices,
            "auto, none, required, a function",
        ),
        "tools": translated("function declarations with their JSON Schema", function_tools, "function tools"),
        "verbosity": refused("Gemini has no verbosity setting"),
        "web_search_options": refused("Google Search grounding is a Gemini tool, not translated"),
    },
    OtherFields(NATIVE_FIELDS, "generation-config fields in NATIVE_FIELDS pass through; others refused"),
    embeddings=EMBEDDINGS,
)
