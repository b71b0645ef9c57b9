"""Sending a JSON request to a provider and forwarding its answer, on the adapter's own
connection pool (`calcifer.transport.http_client`).

The vendor SDKs build each request through a pipeline of option models, header merging
and an httpx2-over-aiohttp transport that costs about 0.3 ms of CPU per call here, against
0.1 ms for the POST itself (docs/performance.md). Adapters keep the SDK client for what it
knows — base URL, authentication, API-version and standard headers — and send the bytes
through this module. Transport failures become Calcifer errors here, in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from loguru import logger

from calcifer.catalog.model import ProviderConfig
from calcifer.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from calcifer.providers.upstream_errors import StatusErrorMapper, generic_status_error
from calcifer.transport.http_client import HttpClient, HttpClientError, tls_context
from calcifer.transport.http_proxy import Proxy
from calcifer.transport.sse import SseSplitter

__all__ = ["Forwarder", "SdkClient", "sdk_headers"]

_CONNECT_SECONDS = 10.0


class SdkClient(Protocol):
    """What the vendor SDK clients (Stainless-built: openai, anthropic) tell about their requests."""

    @property
    def default_headers(self) -> Mapping[str, object]: ...

    @property
    def auth_headers(self) -> Mapping[str, str]: ...


def sdk_headers(client: SdkClient) -> dict[str, str]:
    """The headers the SDK client would send: its standard ones, custom ones and credentials.
    (Headers the SDK leaves for later, as placeholders, are not strings and are skipped.)"""
    static = {key: value for key, value in client.default_headers.items() if isinstance(value, str)}
    return {**static, **client.auth_headers}


class Forwarder:
    def __init__(
        self, config: ProviderConfig, *, status_error: StatusErrorMapper = generic_status_error
    ) -> None:
        self._provider = config.id
        self._status_error_of = status_error
        self._timeout = config.timeout
        proxy = Proxy.of(config.proxy) if config.proxy else None
        tls = tls_context(str(config.ca_bundle)) if config.ca_bundle else None
        # A stream may last long; only its connection is timed here. Its silences are bounded
        # by the gateway (first-byte and idle timeouts), which costs less than a read timer
        # re-armed for every chunk.
        self._client = HttpClient(connect_timeout=min(_CONNECT_SECONDS, config.timeout), tls=tls, proxy=proxy)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        """The body of a successful answer; an error status raises its Calcifer error."""
        with self._translated_errors():
            async with asyncio.timeout(self._timeout):
                answer = await self._client.post(url, body, headers)
                try:
                    payload = await answer.read()
                except BaseException:
                    answer.close()
                    raise
                answer.release()
                if answer.status >= 400:
                    raise self._status_error(answer.status, payload, answer.headers)
                return payload

    async def stream(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncGenerator[list[bytes], None]:
        """The answer's server-sent event payloads, in batches of those that arrived together.

        Closing this generator before the end drops the connection, so the provider stops
        generating (and billing) for a client that has gone."""
        with self._translated_errors():
            answer = await self._client.post(url, body, headers)
            finished = False
            try:
                if answer.status >= 400:
                    raise self._status_error(answer.status, await answer.read(), answer.headers)
                events = SseSplitter()
                while not events.done and (piece := await answer.next_piece()) is not None:
                    if batch := events.feed(piece):
                        yield batch
                if not events.done and (tail := events.end()):
                    yield tail
                finished = True
            finally:
                if finished:
                    answer.release()
                else:
                    answer.close()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _status_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        return self._status_error_of(self._provider, status, payload, headers)

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"Provider '{self._provider}' did not answer in time", provider=self._provider
            ) from exc
        except HttpClientError as exc:
            # The client hears only that the provider failed; the operator needs the reason
            # (refused, certificate, proxy, broken HTTP), which names hosts of their network.
            logger.warning("provider '{}': {}", self._provider, exc)
            raise UpstreamUnavailable(
                f"Provider '{self._provider}' could not be reached or dropped the connection",
                provider=self._provider,
            ) from exc
