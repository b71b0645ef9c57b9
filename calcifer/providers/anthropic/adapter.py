"""`AnthropicProvider`: the provider contract on the Messages API, the SDK client giving the
endpoint and credentials, the bytes sent on the shared forwarding path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import anthropic
import orjson

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.dialect import NativeRequest
from calcifer.domain.embeddings import Embeddings
from calcifer.domain.provider import ParameterPolicy, UpstreamCall
from calcifer.errors import UnsupportedFeature
from calcifer.providers.anthropic.errors import ERROR_TABLE
from calcifer.providers.anthropic.native import (
    FrameReader,
    native_body,
    native_completion,
    native_headers,
    native_url,
)
from calcifer.providers.anthropic.parameters import PARAMETERS
from calcifer.providers.anthropic.request import messages_request
from calcifer.providers.anthropic.response import answer_characters, chat_completion, usage_from_anthropic
from calcifer.providers.anthropic.stream import StreamTranslator, parse_event
from calcifer.providers.forwarding import Forwarder, sdk_headers
from calcifer.providers.upstream_errors import json_object, unreadable
from calcifer.providers.usage_reading import estimated_usage, read_usage
from calcifer.transport.registry import Transports

__all__ = ["DEFAULT_BASE_URL", "AnthropicProvider"]

DEFAULT_BASE_URL = "https://api.anthropic.com"


class AnthropicProvider:
    def __init__(self, config: ProviderConfig, transports: Transports) -> None:
        self._id = config.id
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key.reveal() if config.api_key else "no-key",
            base_url=config.base_url or DEFAULT_BASE_URL,
            timeout=config.timeout,
            max_retries=0,  # the gateway retries; two layers would multiply attempts
            default_headers=dict(config.headers),
            open_telemetry={"traces": False, "propagation": False},
        )
        # The SDK client gives the endpoint, authentication and `anthropic-version`;
        # the bytes go through the shared forwarding path (see calcifer.providers.forwarding).
        self._url = str(self._client.base_url).rstrip("/") + "/v1/messages"
        self._count_url = self._url + "/count_tokens"
        headers = {**sdk_headers(self._client), "Content-Type": "application/json"}
        self._headers = {**headers, "Accept": "application/json"}
        self._stream_headers = {**headers, "Accept": "text/event-stream"}
        self._forwarder = Forwarder(config, transports.for_provider(config), status_error=ERROR_TABLE)

    @property
    def id(self) -> str:
        return self._id

    @property
    def parameters(self) -> ParameterPolicy:
        return PARAMETERS

    async def complete(self, call: UpstreamCall) -> Completion:
        if (native := self._native(call)) is not None:
            headers = native_headers(self._headers, call, native)
            payload = await self._forwarder.post(
                native_url(self._url, native), native_body(call, native), headers
            )
            return native_completion(self._id, call, payload)
        body = messages_request(call, stream=False)
        headers = {**self._headers, **call.headers}
        payload = await self._forwarder.post(self._url, orjson.dumps(body), headers)
        data = json_object(self._id, payload, "a body")
        if not isinstance(data.get("content"), list):
            raise unreadable(self._id, "a message without content")
        usage = read_usage(usage_from_anthropic, data.get("usage"))
        return chat_completion(data, usage or estimated_usage(call, answer_characters(data)))

    async def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]:
        if (native := self._native(call)) is not None:
            async for chunk in self._relay(call, native):
                yield chunk
            return
        body = messages_request(call, stream=True)
        headers = {**self._stream_headers, **call.headers}
        translator = StreamTranslator(self._id, call.model.upstream_model)
        async with aclosing(self._forwarder.stream(self._url, orjson.dumps(body), headers)) as batches:
            async for batch in batches:
                chunks = [
                    chunk for payload in batch for chunk in translator.feed(parse_event(self._id, payload))
                ]
                for index, chunk in enumerate(chunks):
                    chunk.more = index < len(chunks) - 1
                    yield chunk

    async def embed(self, call: UpstreamCall) -> Embeddings:
        """Anthropic has no embeddings API; the gateway refuses such a request before calling
        (`PARAMETERS.embeddings` is None); this answers a caller that skipped that check."""
        raise UnsupportedFeature(f"Provider '{self._id}' (Anthropic) has no embeddings API", param="model")

    async def count_tokens(self, call: UpstreamCall) -> bytes:
        """Anthropic's own count of a native request's input (`/v1/messages/count_tokens`)."""
        native = call.request.native
        assert native is not None, "count_tokens is asked of a Messages request"
        headers = native_headers(self._headers, call, native)
        return await self._forwarder.post(
            native_url(self._count_url, native), native_body(call, native), headers
        )

    def _native(self, call: UpstreamCall) -> NativeRequest | None:
        return call.request.native if PARAMETERS.passes_through(call.request) else None

    async def _relay(self, call: UpstreamCall, native: NativeRequest) -> AsyncIterator[Chunk]:
        """The provider's events as it sent them, frame by frame."""
        headers = native_headers(self._stream_headers, call, native)
        url, reader = native_url(self._url, native), FrameReader(self._id)
        frames = self._forwarder.stream(url, native_body(call, native), headers, frames=True)
        async with aclosing(frames) as batches:
            async for batch in batches:
                for chunk in reader.chunks(batch):
                    yield chunk

    async def aclose(self) -> None:
        await self._forwarder.aclose()
        await self._client.close()
