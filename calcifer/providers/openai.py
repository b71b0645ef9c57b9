"""The `openai` provider: OpenAI and every server that speaks its chat-completions API.

The official `openai` SDK supplies what it knows best: the base URL, authentication
(a bearer key, or Azure's `api-key`), the API version query for Azure, and its standard
headers. The bytes go through `Forwarder` (why: see `calcifer.providers.forwarding`): the
client's body re-encoded once, the provider's answer forwarded, only the usage parsed.
Retries are the gateway's, not a client library's, so there is exactly one source of them.

Usage mapping (OpenAI counts subsets inside totals; the full table is in docs/providers.md):
    prompt_tokens − cached − cache writes − audio        → input_tokens
    prompt_tokens_details.cached_tokens                  → cache_read_tokens
        (DeepSeek reports it as prompt_cache_hit_tokens)
    prompt_tokens_details.cache_write_tokens             → cache_write_tokens (GPT-5.6 and later)
    prompt_tokens_details.audio_tokens                   → input_audio_tokens
    completion_tokens − reasoning − audio                → output_tokens
    completion_tokens_details.reasoning_tokens           → reasoning_tokens
    completion_tokens_details.audio_tokens               → output_audio_tokens
    service_tier (beside usage)                          → service_tier
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import openai
import orjson

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.dialect import Dialect
from calcifer.domain.embeddings import Embeddings
from calcifer.domain.provider import (
    CHAT_PARAMETERS,
    OtherFields,
    ParameterPolicy,
    ParameterRule,
    UpstreamCall,
    forwarded,
    translated,
)
from calcifer.domain.usage import Usage
from calcifer.errors import (
    ContextWindowExceeded,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from calcifer.formats import openai_chat as wire
from calcifer.providers.forwarding import Forwarder, sdk_headers
from calcifer.providers.openai_embeddings import EMBEDDINGS, embeddings_request, read_embeddings
from calcifer.providers.openai_responses import ResponsesPassThrough
from calcifer.providers.upstream_errors import ErrorRow, ErrorTable, VendorError, json_object, unreadable
from calcifer.providers.usage_reading import estimated_usage, read_usage, tokens
from calcifer.transport.registry import Transports

__all__ = ["ERROR_TABLE", "PARAMETERS", "OpenAIProvider", "served_tier", "usage_from_openai"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


# --- credentials and endpoint ---------------------------------------------------------


class _Endpoint:
    """The URL and headers of a request (chat completions by default), as the SDK client builds them."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client
        self._azure = isinstance(client, openai.AsyncAzureOpenAI)
        query = urlencode(dict(client.default_query)) if client.default_query else ""
        self._base = str(client.base_url).rstrip("/")
        self._query = f"?{query}" if query else ""
        self._headers = sdk_headers(client)
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}

    def request(
        self,
        model: str,
        trace_headers: Mapping[str, str],
        *,
        stream: bool,
        operation: str = "/chat/completions",
    ) -> tuple[str, dict[str, str]]:
        path = f"/deployments/{model}" if self._azure else ""
        headers = self._stream_headers if stream else self._headers
        return self._base + path + operation + self._query, {**headers, **trace_headers}

    def responses(self, trace_headers: Mapping[str, str], *, stream: bool) -> tuple[str, dict[str, str]]:
        """The URL and headers of a Responses API request (`{base_url}/responses`)."""
        headers = self._stream_headers if stream else self._headers
        return self._base + "/responses" + self._query, {**headers, **trace_headers}

    async def aclose(self) -> None:
        await self._client.close()


def _sdk_client(config: ProviderConfig) -> openai.AsyncOpenAI:
    common: dict[str, Any] = {
        "api_key": config.api_key.reveal() if config.api_key else "no-key",
        "timeout": config.timeout,
        "max_retries": 0,
        "default_headers": dict(config.headers),
    }
    if config.api_version is not None:
        return openai.AsyncAzureOpenAI(
            azure_endpoint=config.base_url or "", api_version=config.api_version, **common
        )
    return openai.AsyncOpenAI(base_url=config.base_url or DEFAULT_BASE_URL, **common)


# --- request translation --------------------------------------------------------------

# Every parameter goes to the server as the client sent it, except these.
_TRANSLATED: dict[str, ParameterRule] = {
    "model": translated("the catalog's `upstream_model` (on Azure, the deployment in the URL)"),
    "stream": translated("sent as is; the gateway renders the stream"),
    "stream_options": translated(
        "`include_usage` always sent true (the gateway prices every stream); the client's choice "
        "decides whether it sees the usage chunk; other options forwarded"
    ),
}
PARAMETERS = ParameterPolicy(
    {name: _TRANSLATED.get(name) or forwarded() for name in CHAT_PARAMETERS},
    OtherFields(None, "forwarded as sent: OpenAI-compatible servers have their own extensions"),
    embeddings=EMBEDDINGS,
)


def _upstream_body(call: UpstreamCall, *, stream: bool) -> dict[str, Any]:
    """The client's body for the upstream: its model id, and usage always requested."""
    body = dict(call.request.body)
    body["model"] = call.model.upstream_model
    body.pop("stream", None)
    body.pop("stream_options", None)
    if stream:
        body["stream"] = True
        body["stream_options"] = {**(call.request.body.get("stream_options") or {}), "include_usage": True}
    return body


# --- response and stream reading ------------------------------------------------------


def usage_from_openai(usage: Mapping[str, Any]) -> Usage:
    """OpenAI's usage in our buckets; `UnreadableUsage` when a count is not a count."""
    prompt = tokens(usage, "prompt_tokens")
    completion = tokens(usage, "completion_tokens")
    cached = tokens(usage, "prompt_tokens_details", "cached_tokens") or tokens(
        usage,
        "prompt_cache_hit_tokens",  # DeepSeek's name for the same count
    )
    reasoning = tokens(usage, "completion_tokens_details", "reasoning_tokens")
    audio_in = tokens(usage, "prompt_tokens_details", "audio_tokens")
    audio_out = tokens(usage, "completion_tokens_details", "audio_tokens")
    writes = tokens(usage, "prompt_tokens_details", "cache_write_tokens")  # GPT-5.6 and later
    return Usage(
        input_tokens=prompt - cached - writes - audio_in,
        cache_read_tokens=cached,
        cache_write_tokens=writes,
        input_audio_tokens=audio_in,
        output_tokens=completion - reasoning - audio_out,
        reasoning_tokens=reasoning,
        output_audio_tokens=audio_out,
    )


def served_tier(usage: Usage, answer: Mapping[str, Any]) -> Usage:
    """`usage` with the service tier the answer says served it (OpenAI reports it beside usage)."""
    tier = answer.get("service_tier")
    return replace(usage, service_tier=tier) if isinstance(tier, str) else usage


def _usage_or_estimate(data: dict[str, Any], call: UpstreamCall) -> Usage:
    """The answer's usage; an estimate when it has none readable, which then replaces the
    upstream's unreadable one in the body too."""
    usage = read_usage(usage_from_openai, data.get("usage"))
    if usage is not None:
        return served_tier(usage, data)
    answer = sum(len(str((c.get("message") or {}).get("content") or "")) for c in data["choices"])
    usage = estimated_usage(call, answer)
    if "usage" in data:
        data["usage"] = wire.usage_body(usage)
    return usage


def _stream_error(provider: str, error: object) -> UpstreamError:
    return ERROR_TABLE.error(provider, None, {"error": error})


# --- error table ----------------------------------------------------------------------


def _vendor_error(body: object) -> VendorError:
    """OpenAI's error body: `{"error": {"message", "type", "code", "param"}}`; the code is
    the precise one (`context_length_exceeded`), the type the broad one."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return VendorError(None, str(error) if isinstance(error, str) else "")
    code = error.get("code") if isinstance(error.get("code"), str) else error.get("type")
    return VendorError(code if isinstance(code, str) else None, str(error.get("message") or ""))


# OpenAI-compatible servers (vLLM, Ollama, llama.cpp...) often send no error code; their
# wording of "prompt too long" is the only sign, so this one row reads the message.
_COMPATIBLE_CONTEXT_OVERFLOW = re.compile(
    r"context.length|context.window|maximum context|too many tokens|reduce the length", re.IGNORECASE
)

ERROR_TABLE = ErrorTable(
    [
        ErrorRow(None, "context_length_exceeded", ContextWindowExceeded),
        ErrorRow(400, None, ContextWindowExceeded, _COMPATIBLE_CONTEXT_OVERFLOW),
        # Out of credit: waiting does not help, another deployment (another key) may.
        ErrorRow(429, "insufficient_quota", UpstreamUnavailable),
        ErrorRow(None, "invalid_api_key", UpstreamAuthFailed),
        ErrorRow(None, "rate_limit_exceeded", UpstreamRateLimited),
        ErrorRow(None, "server_error", UpstreamUnavailable),
    ],
    _vendor_error,
)


# --- adapter --------------------------------------------------------------------------


class OpenAIProvider:
    """OpenAI and OpenAI-compatible servers; Azure OpenAI when the provider has an `api_version`.

    On Azure the catalog's `base_url` is the resource endpoint and each model's
    `upstream_model` is its deployment name. With `responses_api`, Responses API requests
    pass through to `{base_url}/responses` (`calcifer.providers.openai_responses`).
    """

    def __init__(self, config: ProviderConfig, transports: Transports) -> None:
        self._id = config.id
        self._endpoint = _Endpoint(_sdk_client(config))
        self._forwarder = Forwarder(config, transports.for_provider(config), status_error=ERROR_TABLE)
        self._responses = ResponsesPassThrough(config.id, self._forwarder)
        self._parameters = (
            replace(PARAMETERS, native_dialects=frozenset({Dialect.OPENAI_RESPONSES}))
            if config.responses_api
            else PARAMETERS
        )

    @property
    def id(self) -> str:
        return self._id

    @property
    def parameters(self) -> ParameterPolicy:
        return self._parameters

    async def complete(self, call: UpstreamCall) -> Completion:
        if self._parameters.passes_through(call.request):
            url, headers = self._endpoint.responses(call.headers, stream=False)
            return await self._responses.complete(call, url, headers)
        body = _upstream_body(call, stream=False)
        url, headers = self._endpoint.request(body["model"], call.headers, stream=False)
        payload = await self._forwarder.post(url, orjson.dumps(body), headers)
        data = json_object(self._id, payload, "a body")
        if not isinstance(data.get("choices"), list):
            raise unreadable(self._id, "a chat completion without choices")
        return wire.read_completion(data, _usage_or_estimate(data, call))

    async def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]:
        if self._parameters.passes_through(call.request):
            url, headers = self._endpoint.responses(call.headers, stream=True)
            async with aclosing(self._responses.stream(call, url, headers)) as events:
                async for event in events:
                    yield event
            return
        body = _upstream_body(call, stream=True)
        url, headers = self._endpoint.request(body["model"], call.headers, stream=True)
        async with aclosing(self._forwarder.stream(url, orjson.dumps(body), headers)) as batches:
            async for batch in batches:
                last = len(batch) - 1
                for index, payload in enumerate(batch):
                    chunk = self._chunk(payload)
                    chunk.more = index < last
                    yield chunk

    async def embed(self, call: UpstreamCall) -> Embeddings:
        body = embeddings_request(call)
        url, headers = self._endpoint.request(
            body["model"], call.headers, stream=False, operation="/embeddings"
        )
        payload = await self._forwarder.post(url, orjson.dumps(body), headers)
        return read_embeddings(self._id, json_object(self._id, payload, "a body"), call)

    async def aclose(self) -> None:
        await self._forwarder.aclose()
        await self._endpoint.aclose()

    def _chunk(self, payload: bytes) -> Chunk:
        data = json_object(self._id, payload, "a stream event")
        if "error" in data:
            raise _stream_error(self._id, data["error"])
        if not data.get("usage"):
            return wire.read_chunk(data, payload)
        usage = read_usage(usage_from_openai, data["usage"])
        if usage is None:  # not passed on: the gateway prices the stream on an estimate
            return wire.read_chunk({**data, "usage": None})
        return wire.read_chunk(data, payload, served_tier(usage, data))
