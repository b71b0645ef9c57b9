"""Sending a JSON request to a provider and forwarding its answer, on a `Transport` the
process owns (`calcifer.transport`).

The vendor SDKs build each request through a pipeline of option models, header merging
and an httpx2-over-aiohttp transport that costs about 0.3 ms of CPU per call here, against
0.1 ms for the POST itself (docs/performance.md). Adapters keep the SDK client for what it
knows — base URL, authentication, API-version and standard headers — and send the bytes
through this module. Transport failures become Calcifer errors here, in one place (`_ERRORS`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from loguru import logger

from calcifer.catalog.model import ProviderConfig
from calcifer.errors import (
    UpstreamBusy,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from calcifer.providers.upstream_errors import StatusErrorMapper, generic_status_error
from calcifer.transport.base import (
    BadHttp,
    ConnectFailed,
    ConnectionDropped,
    PoolTimeout,
    ResponseTooLarge,
    Transport,
    TransportError,
)
from calcifer.transport.sse import SseSplitter

__all__ = ["Forwarder", "SdkClient", "sdk_headers"]

_POOL_WAIT_MARGIN = 0.05
_POOL_WAIT_MIN = 0.01

# Transport errors → ours, with what the client is told. A failure to connect and a drop after
# the request was written are both retryable (UpstreamUnavailable): the gateway's one retry
# policy decides, and counts them (attempts, breaker) like any other.
_ERRORS: dict[type[TransportError], tuple[type[UpstreamError], str]] = {
    PoolTimeout: (UpstreamBusy, "had no free connection in time (its max_connections are busy)"),
    ResponseTooLarge: (UpstreamProtocolError, "answered with more than the gateway accepts"),
    BadHttp: (UpstreamProtocolError, "answered with something that is not HTTP"),
    ConnectFailed: (UpstreamUnavailable, "could not be reached"),
    ConnectionDropped: (UpstreamUnavailable, "dropped the connection"),
}


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
    """One provider's calls on a shared `Transport`; closing the forwarder leaves the transport
    open (it belongs to the process, `calcifer.transport.registry.Transports`)."""

    def __init__(
        self,
        config: ProviderConfig,
        transport: Transport,
        *,
        status_error: StatusErrorMapper = generic_status_error,
    ) -> None:
        self._provider = config.id
        self._timeout = config.timeout
        # A stream may last long; only the wait for its answer's head is timed here. Its
        # silences are bounded by the gateway (first-byte and idle timeouts), which costs less
        # than a read timer re-armed for every chunk.
        # A wait for a free connection ends a little before the call's own limit, so that a
        # request stuck behind the gateway's `max_connections` is told so (UpstreamBusy: not
        # the provider's fault) rather than timing out as if the provider were slow.
        self._pool_wait = max(_POOL_WAIT_MIN, self._timeout - _POOL_WAIT_MARGIN)
        stream_wait = config.first_byte_timeout or config.timeout
        self._stream_pool_wait = max(_POOL_WAIT_MIN, stream_wait - _POOL_WAIT_MARGIN)
        self._transport = transport
        self._status_error = status_error
        self._max_event_bytes = transport.limits.max_event_bytes
        self._max_stream_seconds = config.max_stream_seconds
        self._max_stream_bytes = config.max_stream_bytes

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        """The body of a successful answer; an error status raises its Calcifer error."""
        with self._translated_errors():
            async with asyncio.timeout(self._timeout):
                answer = await self._transport.post(url, body, headers, pool_timeout=self._pool_wait)
                try:
                    payload = await answer.read()
                except BaseException:
                    answer.close()
                    raise
                answer.release()
                if answer.status >= 400:
                    raise self._status_error(self._provider, answer.status, payload, answer.headers)
                return payload

    async def stream(
        self, url: str, body: bytes, headers: Mapping[str, str], *, frames: bool = False
    ) -> AsyncGenerator[list[bytes], None]:
        """The answer's server-sent event payloads (with `frames`: whole events, as sent), in
        batches of those that arrived together.

        Closing this generator before the end drops the connection, so the provider stops
        generating (and billing) for a client that has gone."""
        with self._translated_errors():
            answer = await self._transport.post(url, body, headers, pool_timeout=self._stream_pool_wait)
            finished = False
            try:
                if answer.status >= 400:
                    raise self._status_error(
                        self._provider, answer.status, await answer.read(), answer.headers
                    )
                events = SseSplitter(self._max_event_bytes, frames=frames)
                ends, size = time.monotonic() + self._max_stream_seconds, 0
                while not events.done and (piece := await answer.next_piece()) is not None:
                    size += len(piece)
                    if size > self._max_stream_bytes or time.monotonic() > ends:
                        raise self._too_long(size)
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

    def _too_long(self, size: int) -> UpstreamError:
        """A never-ending stream is cut: by its length in time, or in bytes."""
        if size > self._max_stream_bytes:
            return UpstreamProtocolError(
                f"Provider '{self._provider}' sent a stream over {self._max_stream_bytes} bytes",
                provider=self._provider,
            )
        return UpstreamTimeout(
            f"Provider '{self._provider}' streamed for longer than {self._max_stream_seconds:g} s",
            provider=self._provider,
        )

    async def aclose(self) -> None:
        """Nothing of its own to close: the transport outlives the adapters using it."""

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"Provider '{self._provider}' did not answer in time", provider=self._provider
            ) from exc
        except TransportError as exc:
            ours, what = next(_ERRORS[kind] for kind in type(exc).__mro__ if kind in _ERRORS)
            # The client hears only that the provider failed; the operator needs the reason
            # (refused, certificate, proxy, broken HTTP), which names hosts of their network.
            logger.warning("provider '{}': {}", self._provider, exc)
            raise ours(f"Provider '{self._provider}' {what}", provider=self._provider) from exc
