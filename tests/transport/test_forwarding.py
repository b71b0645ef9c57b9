"""Transport failures reach the gateway as Calcifer errors through one table (`providers.forwarding`):
what the client is answered, and whether the gateway's retry policy may try again."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from calcifer.catalog.model import ProviderConfig
from calcifer.errors import (
    UpstreamBusy,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamUnavailable,
)
from calcifer.providers.forwarding import Forwarder
from calcifer.transport.registry import Transports
from tests.fakes.raw_http import Answer, RawServer, length_answer


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
    return False


async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    return True


@pytest.mark.parametrize("transport", ["native", "aiohttp"])
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (hang_up, UpstreamUnavailable),  # written, then dropped: retryable, never re-sent by the transport
        (not_http, UpstreamProtocolError),
        (length_answer(b"x" * 5000), UpstreamProtocolError),  # over max_response_bytes
        (length_answer(b"{}", delay=1), UpstreamBusy),  # waited for by a request that gives up
    ],
    ids=["dropped", "not-http", "too-large", "no-free-connection"],
)
def test_transport_failures_become_calcifer_errors(
    transport: str, answer: Answer, expected: type[UpstreamError]
) -> None:
    async def scenario() -> None:
        config = ProviderConfig(
            id="p",
            kind="openai",
            transport=transport,
            timeout=0.5,
            max_connections=1,
            max_response_bytes=4096,
        )
        transports = Transports()
        forwarder_transport = transports.for_provider(config)
        forwarder = Forwarder(config, forwarder_transport)
        async with RawServer(answer) as server:
            slow = None
            if expected is UpstreamBusy:  # the one connection is held by a slower call
                patient = Forwarder(replace(config, timeout=5), forwarder_transport)
                slow = asyncio.ensure_future(patient.post(server.url(), b"{}", {}))
                await asyncio.sleep(0.05)
            with pytest.raises(expected) as raised:
                await forwarder.post(server.url(), b"{}", {})
            assert raised.value.provider == "p"
            if slow is not None:
                await slow  # answered once the server's delay is over
        await transports.aclose()

    asyncio.run(scenario())


def test_an_unreachable_provider_is_unavailable() -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b"")) as server:
            url = server.url()
        config = ProviderConfig(id="p", kind="openai")
        transports = Transports()
        with pytest.raises(UpstreamUnavailable, match="could not be reached"):
            await Forwarder(config, transports.for_provider(config)).post(url, b"{}", {})
        await transports.aclose()

    asyncio.run(scenario())
