"""`GoogleProvider`: the provider contract on the google-genai SDK, with only the SDK's own
work inside the vendor-error boundary."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from google.genai import types

from calcifer.catalog.model import ProviderConfig
from calcifer.domain.chat import Chunk, Completion
from calcifer.domain.embeddings import Embeddings
from calcifer.domain.provider import ParameterPolicy, UpstreamCall
from calcifer.errors import UpstreamTimeout
from calcifer.formats import openai_chat as wire
from calcifer.providers.google.client import OpenedResponses, open_session, sdk_client
from calcifer.providers.google.embeddings import embed_request, read_embeddings
from calcifer.providers.google.errors import translated_errors
from calcifer.providers.google.parameters import PARAMETERS
from calcifer.providers.google.request import sdk_request
from calcifer.providers.google.response import ResponseReader
from calcifer.transport.registry import Transports

__all__ = ["GoogleProvider"]


class GoogleProvider:
    def __init__(self, config: ProviderConfig, transports: Transports) -> None:
        """`transports` is not used: the google-genai SDK sends on its own aiohttp session,
        whose connections are capped at the provider's `max_connections` (the catalog refuses
        the other transport settings for google)."""
        self._id = config.id
        self._max_stream_seconds = config.max_stream_seconds
        self._opened = OpenedResponses()
        self._session = open_session(config, self._opened)
        self._client = sdk_client(config, self._session)

    @property
    def id(self) -> str:
        return self._id

    @property
    def parameters(self) -> ParameterPolicy:
        return PARAMETERS

    async def complete(self, call: UpstreamCall) -> Completion:
        contents, config = sdk_request(call)
        with translated_errors(self._id):  # the SDK's call only: what we read after is ours
            response = await self._client.models.generate_content(
                model=call.model.upstream_model, contents=contents, config=config
            )
        self._opened.close_current_task()  # read in full already; only forget them
        reader = ResponseReader(call.model.upstream_model)
        reader.read(response)
        return reader.completion(call)

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
        usage = reader.usage()
        if usage is not None:  # else the gateway prices the stream on an estimate
            yield wire.usage_chunk(reader.envelope, usage)

    async def embed(self, call: UpstreamCall) -> Embeddings:
        texts, config = embed_request(call)
        with translated_errors(self._id):
            response = await self._client.models.embed_content(
                model=call.model.upstream_model, contents=texts, config=config
            )
        self._opened.close_current_task()  # read in full already; only forget them
        return read_embeddings(self._id, response, call, len(texts))

    async def _responses(
        self, model: str, contents: list[types.Content], config: types.GenerateContentConfig
    ) -> AsyncGenerator[types.GenerateContentResponse, None]:
        """The SDK's stream of responses. Only the SDK's own work (sending, receiving,
        parsing into its types) is inside the vendor-error boundary; reading them is ours."""
        with translated_errors(self._id):
            responses = await self._client.models.generate_content_stream(
                model=model, contents=contents, config=config
            )
        ends = time.monotonic() + self._max_stream_seconds
        try:
            while True:
                with translated_errors(self._id):
                    response = await anext(responses, None)
                if response is None:
                    return
                if time.monotonic() > ends:  # a never-ending stream is cut
                    raise UpstreamTimeout(
                        f"Provider '{self._id}' streamed for longer than {self._max_stream_seconds:g} s",
                        provider=self._id,
                    )
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
