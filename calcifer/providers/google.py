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
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from weakref import WeakKeyDictionary

import aiohttp
import httpx2
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from yarl import URL

from calcifer.catalog.model import ProviderConfig, ProxyAddress
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.provider import (
    OtherFields,
    ParameterPolicy,
    UpstreamCall,
    forwarded,
    refused,
    translated,
)
from calcifer.domain.usage import Usage
from calcifer.errors import (
    ContextWindowExceeded,
    InvalidRequest,
    UpstreamAuthFailed,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from calcifer.formats import openai_chat as wire
from calcifer.formats.openai_chat import (
    SYSTEM_ROLES,
    image_source,
    parse_arguments,
    stop_sequences,
    text_parts,
    tool_definitions,
)
from calcifer.providers.parameters import (
    content_parts,
    function_calls,
    function_tools,
    inert,
    only,
    response_format_types,
    tool_choices,
    tools_view,
)
from calcifer.providers.upstream_errors import ErrorRow, ErrorTable, VendorError
from calcifer.transport.http_client import tls_context
from calcifer.transport.registry import Transports

__all__ = [
    "ERROR_TABLE",
    "NATIVE_FIELDS",
    "PARAMETERS",
    "THINKING_BUDGETS",
    "GoogleProvider",
    "ResponseReader",
    "usage_from_gemini",
]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
DEFAULT_API_VERSION = "v1beta"
_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
_CONFIG_FIELDS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
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
_SERVICE_TIERS = {"default": "standard", "flex": "flex", "priority": "priority", "fast": "priority"}
# Generation-config fields OpenAI has no name for, passed through as the client sent them
# (snake_case, as the SDK names them; each is checked against the SDK's GenerateContentConfig
# by the tests). Fields that would change the answer's shape (candidate_count, logprobs,
# response_modalities...) are not among them: the reader could not carry them back.
NATIVE_FIELDS = frozenset(
    {"top_k", "thinking_config", "safety_settings", "cached_content", "media_resolution", "labels"}
)


class _OpenedResponses:
    """The HTTP responses the adapter's session opened, by the task that opened them.

    The SDK's stream generators do not close their HTTP response when the consumer stops
    early (closing the outer generator leaves the inner ones suspended), so a client that
    disconnects would leave the upstream streaming. The session reports every response it
    opens here, and `stream` closes those of its own task when it ends, however it ends.
    """

    def __init__(self) -> None:
        self._by_task: WeakKeyDictionary[asyncio.Task[Any], list[aiohttp.ClientResponse]] = (
            WeakKeyDictionary()
        )

    def trace_config(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()
        config.on_request_end.append(self._opened)
        return config

    async def _opened(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._by_task.setdefault(task, []).append(params.response)

    def close_current_task(self) -> None:
        task = asyncio.current_task()
        for response in self._by_task.pop(task, []) if task is not None else []:
            response.close()


def _proxy_auth(proxy: ProxyAddress) -> aiohttp.BasicAuth | None:
    if proxy.user is None:
        return None
    return aiohttp.BasicAuth(proxy.user, proxy.password.reveal() if proxy.password else "")


class GoogleProvider:
    def __init__(self, config: ProviderConfig, transports: Transports) -> None:
        """`transports` is not used: the google-genai SDK sends on its own aiohttp session,
        whose connections are capped at the provider's `max_connections` (the catalog refuses
        the other transport settings for google)."""
        self._id = config.id
        self._opened = _OpenedResponses()
        proxy = config.proxy
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=config.max_connections),
            trace_configs=[self._opened.trace_config()],
            proxy=URL.build(scheme="http", host=proxy.host, port=proxy.port) if proxy else None,
            proxy_auth=_proxy_auth(proxy) if proxy else None,
        )
        options = types.HttpOptions(
            aiohttp_client=self._session,
            base_url=config.base_url or DEFAULT_BASE_URL,
            api_version=config.api_version or DEFAULT_API_VERSION,
            headers=dict(config.headers),
            timeout=int(config.timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),  # the gateway retries, not the SDK
            # the SDK sets `ssl` on each request itself, so a provider's own CAs go there
            async_client_args={"ssl": tls_context(str(config.ca_bundle))} if config.ca_bundle else None,
        )
        api_key = config.api_key.reveal() if config.api_key else "no-key"
        self._client = genai.Client(api_key=api_key, http_options=options).aio

    @property
    def id(self) -> str:
        return self._id

    @property
    def parameters(self) -> ParameterPolicy:
        return PARAMETERS

    async def complete(self, call: UpstreamCall) -> Completion:
        contents, config = sdk_request(call)
        with _translated_errors(self._id):  # the SDK's call only: what we read after is ours
            response = await self._client.models.generate_content(
                model=call.model.upstream_model, contents=contents, config=config
            )
        self._opened.close_current_task()  # read in full already; only forget them
        reader = ResponseReader(call.model.upstream_model)
        reader.read(response)
        return reader.completion()

    async def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]:
        contents, config = sdk_request(call)
        reader = ResponseReader(call.model.upstream_model)
        responses = self._responses(call.model.upstream_model, contents, config)
        try:
            # The SDK sends the request lazily; wait for the first response before the
            # opening chunk, so a refusal (429, 400...) is raised before the client has
            # been sent anything and can still get a plain HTTP error.
            first = await anext(responses, None)
            yield reader.chunk({"role": "assistant", "content": ""})
            if first is not None:
                for delta, finish in reader.read(first):
                    yield reader.chunk(delta, finish)
            async for response in responses:
                for delta, finish in reader.read(response):
                    yield reader.chunk(delta, finish)
        finally:
            await responses.aclose()
        yield wire.usage_chunk(reader.envelope, reader.usage())

    async def _responses(
        self, model: str, contents: list[types.Content], config: types.GenerateContentConfig
    ) -> AsyncGenerator[types.GenerateContentResponse, None]:
        """The SDK's stream of responses. Only the SDK's own work (sending, receiving,
        parsing into its types) is inside the vendor-error boundary; reading them is ours."""
        with _translated_errors(self._id):
            responses = await self._client.models.generate_content_stream(
                model=model, contents=contents, config=config
            )
        try:
            while True:
                with _translated_errors(self._id):
                    response = await anext(responses, None)
                if response is None:
                    return
                yield response
        finally:
            self._opened.close_current_task()
            await _close(responses)

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._session.close()


async def _close(responses: AsyncIterator[Any]) -> None:
    close = getattr(responses, "aclose", None)
    if close is not None:
        await close()


# --- request conversion -------------------------------------------------------------

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
        "safety_identifier": refused("the Gemini API takes no end-user identifier"),
        "user": refused("the Gemini API takes no end-user identifier"),
        "service_tier": translated(
            "generation config `service_tier`: default → standard, flex → flex, priority and fast → "
            "priority; auto → Gemini's default",
            only("auto", *_SERVICE_TIERS),
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
)


def sdk_request(call: UpstreamCall) -> tuple[list[types.Content], types.GenerateContentConfig]:
    """The request in the SDK's own types, checked here, outside the vendor-error boundary.

    The client's data that the SDK refuses (an image that is not base64, a malformed native
    field) is the client's 400; a translated config the SDK refuses is our bug, a 500."""
    contents, config = generate_request(call)
    checked = [_checked(types.Content, content, "messages") for content in contents]
    for name in NATIVE_FIELDS & config.keys():
        _checked(types.GenerateContentConfig, {name: config[name]}, name)
    return checked, types.GenerateContentConfig.model_validate(config)


def _checked(model: type[pydantic.BaseModel], value: dict[str, Any], param: str) -> Any:
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"])
        raise InvalidRequest(
            f"Gemini cannot take '{param}' ({where}): {exc.errors()[0]['msg']}", param=param
        ) from None


def generate_request(call: UpstreamCall) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    source = tools_view(call.request.body)
    system, contents = _contents(source["messages"])
    config: dict[str, Any] = {
        key: source[name] for name, key in _CONFIG_FIELDS.items() if source.get(name) is not None
    }
    limit = source.get("max_completion_tokens") or source.get("max_tokens")
    if limit:
        config["max_output_tokens"] = limit
    if stops := stop_sequences(source):
        config["stop_sequences"] = stops
    if system:
        config["system_instruction"] = system
    if tools := tool_definitions(source):
        config["tools"] = [{"function_declarations": [_declaration(tool) for tool in tools]}]
    if (tool_config := _tool_config(source.get("tool_choice"))) is not None:
        config["tool_config"] = tool_config
    config.update(_response_format(source.get("response_format")))
    if (effort := source.get("reasoning_effort")) is not None:
        budget = THINKING_BUDGETS[effort]
        config["thinking_config"] = {"thinking_budget": budget, "include_thoughts": budget > 0}
    if (tier := _SERVICE_TIERS.get(source.get("service_tier") or "")) is not None:
        config["service_tier"] = tier
    _add_native_fields(config, source)
    if call.headers:
        config["http_options"] = {"headers": dict(call.headers)}  # traceparent, per request
    return contents, config


def _add_native_fields(config: dict[str, Any], source: dict[str, Any]) -> None:
    for name in NATIVE_FIELDS & source.keys():
        if source[name] is None:
            continue
        if name in config:
            raise InvalidRequest(
                f"'{name}' was sent both as is and as the translation of an OpenAI parameter; send one",
                param=name,
            )
        config[name] = source[name]


def _contents(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for message in messages:
        role = message["role"]
        if role in SYSTEM_ROLES:
            system.extend(p.get("text", "") for p in text_parts(message.get("content")))
            continue
        speaker = "model" if role == "assistant" else "user"
        parts = _parts(role, message, call_names)
        if contents and contents[-1]["role"] == speaker:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": speaker, "parts": parts})
    return "\n\n".join(system), contents


def _parts(role: str, message: dict[str, Any], call_names: dict[str, str]) -> list[dict[str, Any]]:
    if role in ("tool", "function"):
        call_id = message.get("tool_call_id") or message.get("name") or ""
        text = "".join(p.get("text", "") for p in text_parts(message.get("content")))
        name = call_names.get(call_id, message.get("name") or call_id)
        return [{"function_response": {"name": name, "response": {"content": text}}}]
    parts = [_part(part) for part in text_parts(message.get("content"))]
    parts = [part for part in parts if part.get("text") != ""]
    for tool_call in message.get("tool_calls") or ():
        function = tool_call.get("function") or {}
        call_names[str(tool_call.get("id"))] = str(function.get("name"))
        parts.append(
            {
                "function_call": {
                    "name": function.get("name"),
                    "args": parse_arguments(function.get("arguments")),
                }
            }
        )
    return parts


def _part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"text": part.get("text", "")}
    if kind == "image_url":
        source = image_source(part)
        if source.url:
            return {"file_data": {"file_uri": source.url, "mime_type": _guess_mime(source.url)}}
        return {"inline_data": {"mime_type": source.media_type, "data": source.data}}
    raise InvalidRequest(
        f"Content parts of type '{kind}' are not supported by Gemini models", param="messages"
    )


def _guess_mime(url: str) -> str:
    lowered = url.lower().split("?", 1)[0]
    for suffix, mime in ((".png", "image/png"), (".webp", "image/webp"), (".gif", "image/gif")):
        if lowered.endswith(suffix):
            return mime
    return "image/jpeg"


def _declaration(function: dict[str, Any]) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    if function.get("parameters"):
        declaration["parameters_json_schema"] = function["parameters"]
    return declaration


def _tool_config(choice: object) -> dict[str, Any] | None:
    if choice is None:
        return None
    modes = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
    if isinstance(choice, str) and choice in modes:
        return {"function_calling_config": {"mode": modes[choice]}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        return {"function_calling_config": {"mode": "ANY", "allowed_function_names": [name]}}
    raise InvalidRequest("tool_choice must be auto, none, required or a named function", param="tool_choice")


def _response_format(response_format: object) -> dict[str, Any]:
    if not isinstance(response_format, dict) or response_format.get("type") in (None, "text"):
        return {}
    if response_format["type"] == "json_object":
        return {"response_mime_type": "application/json"}
    if response_format["type"] == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return {"response_mime_type": "application/json", "response_json_schema": schema}
    raise InvalidRequest(
        f"response_format type '{response_format['type']}' is not supported", param="response_format"
    )


# --- response conversion ------------------------------------------------------------


def usage_from_gemini(usage: Mapping[str, Any]) -> Usage:
    prompt = int(usage.get("prompt_token_count") or 0)
    cached = int(usage.get("cached_content_token_count") or 0)
    return Usage(
        input_tokens=prompt - cached,
        cache_read_tokens=cached,
        output_tokens=int(usage.get("candidates_token_count") or 0),
        reasoning_tokens=int(usage.get("thoughts_token_count") or 0),
    )


class ResponseReader:
    """Reads Gemini responses (one, or each of a stream) into the chat schema."""

    def __init__(self, model: str) -> None:
        self.envelope = wire.chunk_envelope(f"chatcmpl-{uuid.uuid4().hex}", model)
        self._text: list[str] = []
        self._thoughts: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._finish: str | None = None
        self._usage: dict[str, Any] = {}

    def read(self, response: types.GenerateContentResponse) -> list[tuple[dict[str, Any], str | None]]:
        """Note one response; returns the deltas it adds (streams send them on)."""
        return list(self._deltas(response))

    def _deltas(self, response: types.GenerateContentResponse) -> Iterator[tuple[dict[str, Any], str | None]]:
        if response.response_id:
            self.envelope["id"] = response.response_id
        if response.model_version:
            self.envelope["model"] = response.model_version
        if response.usage_metadata is not None:
            self._usage = response.usage_metadata.model_dump(exclude_none=True)
        blocked = response.prompt_feedback is not None and response.prompt_feedback.block_reason is not None
        candidate = response.candidates[0] if response.candidates else None
        if candidate is None:
            if blocked:
                self._finish = wire.CONTENT_FILTER
                yield {}, self._finish
            return
        yield from self._read_parts(candidate.content.parts if candidate.content else None)
        if candidate.finish_reason is not None:
            self._finish = self._finish_reason(str(candidate.finish_reason.value))
            yield {}, self._finish

    def _read_parts(self, parts: list[types.Part] | None) -> Iterator[tuple[dict[str, Any], str | None]]:
        for part in parts or ():
            if part.function_call is not None:
                call = {
                    "index": len(self._calls),
                    "id": part.function_call.id or f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {
                        "name": part.function_call.name,
                        "arguments": wire.arguments_text(part.function_call.args),
                    },
                }
                self._calls.append(call)
                yield {"tool_calls": [call]}, None
            elif part.text and part.thought:
                self._thoughts.append(part.text)
                yield {"reasoning_content": part.text}, None
            elif part.text:
                self._text.append(part.text)
                yield {"content": part.text}, None

    def _finish_reason(self, reason: str) -> str:
        if reason in _FILTERED:
            return wire.CONTENT_FILTER
        if reason == "MAX_TOKENS":
            return wire.LENGTH
        return wire.TOOL_CALLS if self._calls else wire.STOP

    def usage(self) -> Usage:
        return usage_from_gemini(self._usage)

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> Chunk:
        usage_so_far = self.usage() if self._usage else None
        return wire.delta_chunk(self.envelope, delta, finish, usage_so_far=usage_so_far)

    def completion(self) -> Completion:
        if self._finish is None and not self._text and not self._calls:
            raise UpstreamProtocolError(
                "Provider answered with neither a candidate nor a block reason", provider="google"
            )
        calls = [{k: v for k, v in call.items() if k != "index"} for call in self._calls]
        message = wire.assistant_message(self._text, calls, self._thoughts)
        finish = self._finish or wire.STOP
        return wire.completion(self.envelope["id"], self.envelope["model"], message, finish, self.usage())


# --- error table ----------------------------------------------------------------------


def _vendor_error(body: object) -> VendorError:
    """Google's error body: `{"error": {"code", "message", "status", "details"}}`. The
    precise code, when there is one, is the `reason` of an ErrorInfo detail
    (`API_KEY_INVALID`); otherwise the canonical `status` (`RESOURCE_EXHAUSTED`)."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return VendorError(None, "")
    reasons = [
        detail.get("reason")
        for detail in error.get("details") or ()
        if isinstance(detail, dict) and isinstance(detail.get("reason"), str)
    ]
    status = error.get("status")
    kind = reasons[0] if reasons else status if isinstance(status, str) else None
    return VendorError(kind, str(error.get("message") or ""))


# Gemini sends no code for a prompt over the context window: a plain INVALID_ARGUMENT whose
# message reads "The input token count (N) exceeds the maximum number of tokens allowed (M)".
_INPUT_TOO_LONG = re.compile(
    r"input token count.*exceeds|exceeds the maximum number of tokens", re.IGNORECASE
)

ERROR_TABLE = ErrorTable(
    [
        ErrorRow(None, "API_KEY_INVALID", UpstreamAuthFailed),  # sent as 400 INVALID_ARGUMENT
        ErrorRow(400, "INVALID_ARGUMENT", ContextWindowExceeded, _INPUT_TOO_LONG),
        ErrorRow(None, "INVALID_ARGUMENT", UpstreamRejected),
        ErrorRow(None, "NOT_FOUND", UpstreamRejected),
        ErrorRow(None, "UNAUTHENTICATED", UpstreamAuthFailed),
        ErrorRow(None, "PERMISSION_DENIED", UpstreamAuthFailed),
        # Billing or region of the gateway's project: not the client's fault; another deployment may serve.
        ErrorRow(None, "FAILED_PRECONDITION", UpstreamUnavailable),
        ErrorRow(None, "RESOURCE_EXHAUSTED", UpstreamRateLimited),
        ErrorRow(None, "DEADLINE_EXCEEDED", UpstreamTimeout),
        ErrorRow(None, "INTERNAL", UpstreamUnavailable),
        ErrorRow(None, "UNAVAILABLE", UpstreamUnavailable),
    ],
    _vendor_error,
)


def _retry_delay(body: object) -> str | None:
    """Seconds of a RetryInfo detail (`"retryDelay": "13s"`), which Gemini sends on 429
    instead of a Retry-After header."""
    error = body.get("error", body) if isinstance(body, dict) else None
    for detail in (error.get("details") or ()) if isinstance(error, dict) else ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            return delay.removesuffix("s")
    return None


@contextmanager
def _translated_errors(provider: str) -> Iterator[None]:
    """The one place SDK and transport exceptions become Calcifer errors. It wraps the SDK's
    calls only: our translation and reading code stays outside, so a bug of ours is our 500."""
    try:
        yield
    except genai_errors.APIError as exc:
        headers = {k.lower(): v for k, v in (getattr(exc.response, "headers", None) or {}).items()}
        if "retry-after" not in headers and (delay := _retry_delay(exc.details)) is not None:
            headers["retry-after"] = delay
        raise ERROR_TABLE.error(provider, exc.code, exc.details, headers) from exc
    except (TimeoutError, httpx2.TimeoutException) as exc:
        raise UpstreamTimeout(f"Provider '{provider}' did not answer in time", provider=provider) from exc
    except (aiohttp.ClientError, httpx2.TransportError) as exc:
        raise UpstreamUnavailable(
            f"Provider '{provider}' could not be reached or dropped the connection", provider=provider
        ) from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # Raised inside the SDK while it parses the answer into its types: the answer is not
        # Gemini's documented format (a `finishReason` that is a number makes it raise
        # AttributeError, a wrong type a pydantic ValidationError).
        raise UpstreamProtocolError(
            f"Provider '{provider}' answered with something unreadable", provider=provider
        ) from exc
