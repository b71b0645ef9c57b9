"""The `openai` provider: OpenAI and every server that speaks its chat-completions API.

Built on the official `openai` SDK (credentials, base URL, headers, timeouts and error
classes come from it), but on its cheapest route: the low-level `post` with an already
encoded body and a raw HTTP response on the SDK's aiohttp transport. The typed response
models cost about 2 ms of CPU a call and the gateway would only serialize them again;
it forwards the bytes and parses only the usage it prices.

Usage mapping (OpenAI counts subsets inside totals):
    prompt_tokens − prompt_tokens_details.cached_tokens  → input_tokens
    prompt_tokens_details.cached_tokens                  → cache_read_tokens
        (DeepSeek reports it as prompt_cache_hit_tokens)
    completion_tokens − completion_tokens_details.reasoning_tokens → output_tokens
    completion_tokens_details.reasoning_tokens           → reasoning_tokens
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx2
import openai
import orjson

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.estimate import estimate_tokens
from calcifer.domain.provider import Capability, UpstreamCall
from calcifer.domain.usage import Usage
from calcifer.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnavailable
from calcifer.providers.sse import sse_payloads
from calcifer.providers.upstream_errors import from_status

__all__ = ["OpenAIProvider", "usage_from_openai"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_SSE_HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


class OpenAIProvider:
    """OpenAI and OpenAI-compatible servers; Azure OpenAI when the provider has an `api_version`.

    On Azure the catalog's `base_url` is the resource endpoint and each model's
    `upstream_model` is its deployment name.
    """

    def __init__(self, config: ProviderConfig) -> None:
        self._id = config.id
        self._azure = config.api_version is not None
        self._client = _client(config)

    @property
    def id(self) -> str:
        return self._id

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    async def complete(self, call: UpstreamCall) -> Completion:
        body = _upstream_body(call, stream=False)
        with _translated_errors(self._id):
            response = await self._post(body, call.headers, _JSON_HEADERS, stream=False)
            payload = response.content
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise _bad_response(self._id, "a body that is not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise _bad_response(self._id, "a chat completion without choices")
        return Completion(body=data, usage=_usage_or_estimate(data, call))

    async def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]:
        body = _upstream_body(call, stream=True)
        with _translated_errors(self._id):
            response = await self._post(body, call.headers, _SSE_HEADERS, stream=True)
            try:
                async for payload in sse_payloads(response.aiter_lines()):
                    yield self._chunk(payload)
            finally:
                await response.aclose()

    async def aclose(self) -> None:
        await self._client.close()

    async def _post(
        self,
        body: dict[str, Any],
        trace_headers: Mapping[str, str],
        headers: Mapping[str, str],
        *,
        stream: bool,
    ) -> httpx2.Response:
        # The body goes pre-encoded, so the Azure client cannot read the deployment from it.
        path = f"/deployments/{body['model']}/chat/completions" if self._azure else "/chat/completions"
        response: httpx2.Response = await self._client.post(
            path,
            cast_to=httpx2.Response,
            content=orjson.dumps(body),
            options={"headers": {**headers, **trace_headers}},
            stream=stream,
        )
        return response

    def _chunk(self, payload: str) -> Chunk:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise _bad_response(self._id, "a stream event that is not JSON") from exc
        if not isinstance(data, dict):
            raise _bad_response(self._id, "a stream event that is not an object")
        if "error" in data:
            raise _stream_error(self._id, data["error"])
        usage = data.get("usage")
        return Chunk(data, payload.encode(), usage_from_openai(usage) if usage else None)


def _client(config: ProviderConfig) -> openai.AsyncOpenAI:
    common: dict[str, Any] = {
        "api_key": config.api_key.reveal() if config.api_key else "no-key",
        "timeout": config.timeout,
        "max_retries": config.max_retries,
        "default_headers": dict(config.headers),
        "http_client": openai.DefaultAioHttpClient(timeout=config.timeout),
    }
    if config.api_version is not None:
        return openai.AsyncAzureOpenAI(
            azure_endpoint=config.base_url or "", api_version=config.api_version, **common
        )
    return openai.AsyncOpenAI(base_url=config.base_url or DEFAULT_BASE_URL, **common)


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


def usage_from_openai(usage: Mapping[str, Any]) -> Usage:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = int(
        (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
        or usage.get("prompt_cache_hit_tokens")  # DeepSeek's name for the same count
        or 0
    )
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    return Usage(
        input_tokens=prompt - cached,
        cache_read_tokens=cached,
        output_tokens=completion - reasoning,
        reasoning_tokens=reasoning,
    )


def _usage_or_estimate(data: Mapping[str, Any], call: UpstreamCall) -> Usage:
    usage = data.get("usage")
    if isinstance(usage, dict):
        return usage_from_openai(usage)
    prompt = "".join(str(m.get("content") or "") for m in call.request.messages)
    answer = "".join(str((c.get("message") or {}).get("content") or "") for c in data["choices"])
    return Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(answer), estimated=True)


def _bad_response(provider: str, what: str) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"Provider '{provider}' answered with {what}", provider=provider)


def _stream_error(provider: str, error: object) -> UpstreamError:
    message = error.get("message") if isinstance(error, dict) else None
    return UpstreamUnavailable(
        f"Provider '{provider}' failed mid-stream: {message or error}", provider=provider
    )


@contextmanager
def _translated_errors(provider: str) -> Iterator[None]:
    """The one place SDK and transport exceptions become Calcifer errors."""
    try:
        yield
    except openai.APIStatusError as exc:
        raise _from_status(provider, exc) from exc
    except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
        raise UpstreamTimeout(f"Provider '{provider}' did not answer in time", provider=provider) from exc
    except (openai.APIConnectionError, httpx2.TransportError) as exc:
        raise UpstreamUnavailable(
            f"Provider '{provider}' could not be reached or dropped the connection", provider=provider
        ) from exc


def _from_status(provider: str, exc: openai.APIStatusError) -> UpstreamError:
    return from_status(provider, exc.status_code, _upstream_message(exc), exc.response.headers)


def _upstream_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"HTTP {exc.status_code}"
