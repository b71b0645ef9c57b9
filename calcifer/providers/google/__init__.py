"""The `google` provider: Gemini through the official `google-genai` SDK and its async client.

Unlike the other adapters this one uses the SDK's typed API (`generate_content`,
`generate_content_stream`): Gemini's wire format differs from the chat schema in every
field, the SDK owns the mapping of its snake_case options to the REST body, and its
response objects are read field by field here.

Translation, chat schema → Gemini: system and developer messages → `system_instruction`;
user/assistant → `user`/`model` contents, consecutive same-role turns merged; images →
`inline_data` (base64) or `file_data` (URL); assistant tool calls → `function_call` parts;
tool results → `function_response` parts (named after the call they answer); tools (and
legacy functions) → function declarations with their JSON Schema; tool_choice → function
calling mode AUTO/NONE/ANY (+ allowed names); temperature, top_p, max tokens, stop, seed,
penalties, service tier and `response_format` (JSON object or JSON schema) → generation
config; `reasoning_effort` → `thinking_config.thinking_budget` (thoughts included). Every
OpenAI parameter's fate is in `PARAMETERS`; of the fields OpenAI does not have, only the
generation-config fields in `NATIVE_FIELDS` pass through (`top_k`, `safety_settings`...).
The request is checked against the SDK's own types before the call, so a value they refuse
is the client's 400 or our 500, never the provider's fault.

Back: text parts → `content`; thought parts → `reasoning_content`; function calls →
`tool_calls`; finish STOP → stop (tool_calls when the answer calls a function),
MAX_TOKENS → length, SAFETY/RECITATION/BLOCKLIST/PROHIBITED_CONTENT/SPII/IMAGE_SAFETY →
content_filter; a prompt blocked before any candidate → content_filter with no content.

Usage mapping (Gemini counts cached tokens inside the prompt count, and thoughts beside
the candidates count):
    prompt_token_count − cached_content_token_count → input_tokens
    cached_content_token_count                       → cache_read_tokens
    candidates_token_count                           → output_tokens
    thoughts_token_count                             → reasoning_tokens

Modules, in the order every vendor package keeps: `parameters` (the parameter table and
native fields), `client` (the SDK client: endpoint, credentials, its aiohttp session),
`request` (translation), `response` (reading answers and streams), `errors` (the error
table), `adapter` (`GoogleProvider`).
"""

from __future__ import annotations

from calcifer.providers.google.adapter import GoogleProvider
from calcifer.providers.google.errors import ERROR_TABLE
from calcifer.providers.google.parameters import NATIVE_FIELDS, PARAMETERS, THINKING_BUDGETS
from calcifer.providers.google.response import ResponseReader, usage_from_gemini

__all__ = [
    "ERROR_TABLE",
    "NATIVE_FIELDS",
    "PARAMETERS",
    "THINKING_BUDGETS",
    "GoogleProvider",
    "ResponseReader",
    "usage_from_gemini",
]
