"""The `anthropic` provider: Claude through the official `anthropic` SDK (Messages API).

The SDK client supplies the base URL, authentication and the `anthropic-version` and
standard headers; the gateway translates JSON to and from the chat schema itself and sends
the bytes through the shared forwarding path. The SDK's own OpenTelemetry spans and trace
propagation are switched off: the gateway's CLIENT span is the one span of the call, and
its `traceparent` is the one sent.

Translation, chat schema → Messages API: system and developer messages → `system`
(blocks when any carries `cache_control`); consecutive same-role turns merged; tool
results → `tool_result` blocks in a user turn; images → `image` blocks (base64 or URL);
tools (and legacy functions) → `input_schema` tools; tool_choice auto/none/required/named →
auto/none/any/tool; `stop` → `stop_sequences`; `max_tokens` defaults to the model's catalog
maximum; `reasoning_effort` → extended thinking with a budget per level; `response_format`
json_schema → `output_config.format`; `safety_identifier` / `user` → `metadata.user_id`.
Every OpenAI parameter's fate is in `PARAMETERS`; of the fields OpenAI does not have, only
the Messages API's own listed in `NATIVE_FIELDS` pass through (`thinking`, `output_config`...).

Back: text blocks → `content`; `tool_use` → `tool_calls`; extended thinking →
`message.reasoning_content` (`delta.reasoning_content` when streaming), never dropped;
stop_reason end_turn/stop_sequence → stop, max_tokens → length, tool_use → tool_calls,
refusal → content_filter.

Usage mapping (Anthropic reports cache traffic beside `input_tokens`, and counts
thinking inside `output_tokens`):
    input_tokens                 → input_tokens
    cache_read_input_tokens      → cache_read_tokens
    cache_creation_input_tokens  → cache_write_tokens
    output_tokens                → output_tokens

Modules, in the order every vendor package keeps: `parameters` (the parameter table and
native fields), `request` (translation), `response` and `stream` (reading answers and
streams), `errors` (the error table), `adapter` (`AnthropicProvider`: the SDK client for
endpoint and credentials, and the calls).
"""

from __future__ import annotations

from calcifer.providers.anthropic.adapter import AnthropicProvider
from calcifer.providers.anthropic.errors import ERROR_TABLE
from calcifer.providers.anthropic.parameters import NATIVE_FIELDS, PARAMETERS, THINKING_BUDGETS
from calcifer.providers.anthropic.response import usage_from_anthropic
from calcifer.providers.anthropic.stream import StreamTranslator, parse_event

__all__ = [
    "ERROR_TABLE",
    "NATIVE_FIELDS",
    "PARAMETERS",
    "THINKING_BUDGETS",
    "AnthropicProvider",
    "StreamTranslator",
    "parse_event",
    "usage_from_anthropic",
]
