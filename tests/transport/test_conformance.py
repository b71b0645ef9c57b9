"""Every `Transport` (native, aiohttp) against raw socket servers that frame their answers exactly
as scripted: the same behaviour and the same limits, on asyncio's loop and on uvloop."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

import pytest
import uvloop

from calcifer.catalog.model import ProxyAddress
from calcifer.transport.aiohttp_transport import AiohttpTransport
from calcifer.transport.base import (
    BadHttp,
    ConnectFailed,
    ConnectionDropped,
    Limits,
    PoolTimeout,
    Resolver,
    ResponseTooLarge,
    Transport,
)
from calcifer.transport.http_client import HttpClient
from calcifer.transport.http_proxy import Proxy
from calcifer.transport.sse import SseSplitter
from tests.fakes.proxy import FakeProxy
from tests.fakes.raw_http import Blackhole, RawServer, length_answer
from tests.fakes.tls import CertificateAuthority

FAST = Limits(connect_timeout=1)


class Make(Protocol):
    def __call__(
        self,
        limits: Limits = FAST,
        *,
        tls: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
        resolver: Resolver | None = None,
    ) -> Transport: ...


@pytest.fixture(params=["native", "aiohttp"])
def make(request: pytest.FixtureRequest) -> Make:
    """A transport of each implementation, made inside the scenario's event loop."""
    implementation = {"native": HttpClient, "aiohttp": AiohttpTransport}[request.param]
    return implementation  # type: ignore[return-value]


@asynccontextmanager
async def using(transport: Transport) -> AsyncIterator[Transport]:
    try:
        yield transport
    finally:
        await transport.aclose()


async def post(
    transport: Transport, url: str, body: bytes = b"{}", pool_timeout: float = 2
) -> tuple[int, bytes]:
    response = await transport.post(
        url, body, {"Content-Type": "application/json"}, pool_timeout=pool_timeout
    )
    payload = await response.read()
    response.release()
    return response.status, payload


async def events(transport: Transport, url: str) -> list[bytes]:
    """Every event of a streamed answer, read as the forwarder reads them."""
    response = await transport.post(url, b"{}", {}, pool_timeout=2)
    splitter = SseSplitter(transport.limits.max_event_bytes)
    out = []
    try:
        while (piece := await response.next_piece()) is not None:
            out += splitter.feed(piece)
    finally:
        response.close()
    return out + splitter.end()


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 10) -> None:
    """On asyncio's loop and on uvloop, which the gateway runs on (their TLS paths differ)."""
    for new_loop in (asyncio.new_event_loop, uvloop.new_event_loop):
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(asyncio.wait_for(scenario(), timeout=timeout))


def proxy_at(url: str) -> Proxy:
    """The proxy as the catalog and the adapters make it from a provider's `proxy` URL."""
    return Proxy.of(ProxyAddress.parse(url))


class CountingResolver:
    """A name server whose answers the test sets; it counts the questions."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked += 1
        return self.answers[min(self.asked, len(self.answers)) - 1]


# --- HTTP as providers speak it -------------------------------------------------------


def test_requests_in_turn_share_one_kept_alive_connection(make: Make) -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b'{"ok":true}')) as server, using(make()) as transport:
            for _ in range(3):
                assert await post(transport, server.url(), b'{"n":1}') == (200, b'{"ok":true}')
        assert server.connections == 1
        assert len(server.requests) == 3
        first = server.requests[0]
        assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
        assert b"\r\nHost: 127.0.0.1:%d\r\n" % server.port in first
        assert b"\r\nAccept-Encoding: identity\r\n" in first
        assert first.endswith(b'\r\n\r\n{"n":1}')

    run(scenario)


@pytest.mark.parametrize(
    "wire, body",
    [
        (b"Content-Length: 5\r\n\r\nhello", b"hello"),
        (b"Transfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", b"hello"),
        (b"Connection: close\r\n\r\nhello, until the end", b"hello, until the end"),
        (
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
            % (len(gzip.compress(b"zipped")), gzip.compress(b"zipped")),
            b"zipped",
        ),
    ],
    ids=["content-length", "chunked", "until-close", "gzip"],
)
def test_answer_bodies_are_read_however_they_are_framed(make: Make, wire: bytes, body: bytes) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n" + wire)
        await writer.drain()
        return b"Connection: close" not in wire

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            assert await post(transport, server.url()) == (200, body)

    run(scenario)


def test_status_and_headers_of_an_error_answer_are_kept(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}")
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            response = await transport.post(server.url(), b"{}", {}, pool_timeout=1)
            assert (response.status, response.headers["retry-after"]) == (429, "7")
            assert await response.read() == b"{}"
            response.release()

    run(scenario)


def test_interim_answers_are_skipped_for_the_final_one(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            response = await transport.post(server.url(), b"{}", {}, pool_timeout=1)
            assert (response.status, "link" in response.headers) == (200, False)
            assert await response.read() == b"final"
            response.release()
            assert await post(transport, server.url()) == (200, b"final")  # and the connection is kept
        assert server.connections == 1

    run(scenario)


def test_a_stream_released_before_its_last_chunk_arrives_still_returns_its_connection(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        event = b"data: [DONE]\n\n"
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%b\r\n" % (len(event), event)
        )
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")  # the end of the chunked body, after the gateway stopped reading
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            response = await transport.post(server.url(), b"{}", {}, pool_timeout=1)
            assert await response.next_piece() == b"data: [DONE]\n\n"
            response.release()
            await asyncio.sleep(0.1)
            assert await post(transport, server.url()) == (200, b"data: [DONE]\n\n")
        assert server.connections == 1

    run(scenario)


def test_an_unread_body_stops_the_reading_until_it_is_read(make: Make) -> None:
    size = 16 * 1024 * 1024
    drained = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)
        await writer.drain()
        drained.set()
        return True

    async def scenario() -> None:
        drained.clear()
        async with RawServer(answer) as server, using(make()) as transport:
            response = await transport.post(server.url(), b"{}", {}, pool_timeout=1)
            await asyncio.sleep(0.3)
            assert not drained.is_set()  # the client holds a bounded buffer, the rest waits
            assert len(await response.read()) == size
            response.release()
            await asyncio.wait_for(drained.wait(), timeout=2)

    run(scenario)


def test_closing_an_unfinished_answer_drops_the_connection(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):  # a long generation; the server learns of the abandon when it reads
            writer.write(b"4\r\ntok \r\n")
            await writer.drain()
            if await _peer_closed(reader):
                return False
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            response = await transport.post(server.url(), b"{}", {}, pool_timeout=1)
            await response.next_piece()
            response.close()
            await asyncio.wait_for(server.closed.wait(), timeout=2)

    run(scenario)


async def _peer_closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), timeout=0.02) == b""
    except TimeoutError:
        return False


# --- failures, and never a request sent twice ------------------------------------------


def test_a_kept_connection_the_server_closed_while_idle_is_not_used(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        return False  # then close, as a server does at its keep-alive limit, without a word

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            assert await post(transport, server.url()) == (200, b"ok")
            await asyncio.wait_for(server.closed.wait(), timeout=1)
            await asyncio.sleep(0.05)
            assert await post(transport, server.url()) == (200, b"ok")
        assert (server.connections, len(server.requests)) == (2, 2)

    run(scenario)


def test_a_close_that_arrived_just_before_the_next_request_is_seen_before_writing() -> None:
    """The server's close is on the socket but the event loop has not yet looked: the native
    client asks the socket before writing. (aiohttp knows only what its loop has seen; the
    request fails as a retryable `ConnectionDropped`, written once.)"""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        writer.close()  # the FIN right behind the answer
        return False

    async def scenario() -> None:
        async with RawServer(answer) as server, using(HttpClient(FAST)) as transport:
            for _ in range(5):
                assert await post(transport, server.url()) == (200, b"ok")
        assert (server.connections, len(server.requests)) == (5, 5)

    run(scenario)


def test_a_drop_after_the_request_was_written_fails_once_and_is_not_sent_again(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            return False  # read the second request, close without a word: it may have been acted on
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            assert await post(transport, server.url()) == (200, b"ok")
            with pytest.raises(ConnectionDropped):
                await post(transport, server.url())
            await asyncio.sleep(0.1)
        assert (server.connections, len(server.requests)) == (1, 2)

    run(scenario)


def test_a_new_connection_closed_without_an_answer_fails_once(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        return False

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            with pytest.raises(ConnectionDropped):
                await post(transport, server.url())
            await asyncio.sleep(0.1)
        assert (server.connections, len(server.requests)) == (1, 1)

    run(scenario)


def test_a_body_cut_short_fails_instead_of_looking_complete(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")
        await writer.drain()
        return False

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            with pytest.raises(ConnectionDropped):
                await post(transport, server.url())

    run(scenario)


def test_an_answer_that_is_not_http_fails(make: Make) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, using(make()) as transport:
            with pytest.raises(BadHttp):
                await post(transport, server.url())

    run(scenario)


def test_an_unreachable_server_is_a_connect_error(make: Make) -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b"")) as server:
            port = server.port
        async with using(make()) as transport:
            with pytest.raises(ConnectFailed):
                await post(transport, f"http://127.0.0.1:{port}/v1")

    run(scenario)


def test_header_values_cannot_smuggle_a_second_request(make: Make) -> None:
    async def scenario() -> None:
        async with using(make()) as transport:
            with pytest.raises(ConnectFailed, match="line break"):
                await transport.post("http://127.0.0.1:9/v1", b"", {"X-A": "1\r\nX-B: 2"}, pool_timeout=1)

    run(scenario)


# --- limits ---------------------------------------------------------------------------


def test_connections_to_an_origin_are_capped_and_waiting_requests_go_in_order(make: Make) -> None:
    async def scenario() -> None:
        async with (
            RawServer(length_answer(b"ok", delay=0.05)) as server,
            using(make(Limits(max_connections=2, connect_timeout=1))) as transport,
        ):

            async def numbered(n: int) -> tuple[int, bytes]:
                await asyncio.sleep(n * 0.005)  # they arrive in this order
                return await post(transport, server.url(), b'{"n":%d}' % n)

            answers = await asyncio.gather(*(numbered(n) for n in range(12)))
        assert answers == [(200, b"ok")] * 12
        assert (server.connections, server.peak) == (2, 2)
        order = [int(request.rsplit(b'{"n":', 1)[1].rstrip(b"}")) for request in server.requests]
        # The first two each open a connection of their own at once: which of those two sockets
        # the server reads first is the machine's business. Every later one waited, and went in turn.
        assert sorted(order[:2]) == [0, 1]
        assert order[2:] == list(range(2, 12))

    run(scenario)


def test_a_request_that_cannot_get_a_connection_in_time_fails_without_being_sent(make: Make) -> None:
    async def scenario() -> None:
        async with (
            RawServer(length_answer(b"ok", delay=0.6)) as server,
            using(make(Limits(max_connections=1, connect_timeout=1))) as transport,
        ):
            busy = asyncio.ensure_future(post(transport, server.url()))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            with pytest.raises(PoolTimeout):
                await post(transport, server.url(), pool_timeout=0.2)
            assert 0.15 < time.monotonic() - started < 0.5
            assert await busy == (200, b"ok")
            assert await post(transport, server.url()) == (200, b"ok")  # the slot was given back
        assert (server.connections, len(server.requests)) == (1, 2)

    run(scenario)


def test_an_address_that_does_not_answer_is_given_up_for_the_next_one(make: Make) -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b"via IPv4")) as server:
            blackhole = Blackhole("::1", server.port)  # the IPv6 address routes nowhere
            try:
                resolver = CountingResolver(["::1", "127.0.0.1"])
                limits = Limits(connect_timeout=0.3)
                async with using(make(limits, resolver=resolver)) as transport:
                    started = time.monotonic()
                    assert await post(transport, f"http://localhost:{server.port}/v1") == (200, b"via IPv4")
                    assert time.monotonic() - started < 1.5
            finally:
                blackhole.close()

    run(scenario, timeout=20)


def test_dns_answers_are_asked_again_after_their_max_age_and_after_a_failed_connect(make: Make) -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b"ok", b"Connection: close\r\n")) as server:
            url = f"http://provider.test:{server.port}/v1"
            # 127.0.0.3 has nobody on this port: the host "moved" to 127.0.0.1
            resolver = CountingResolver(["127.0.0.3"], ["127.0.0.1"])
            limits = Limits(connect_timeout=1, dns_max_age=0.5)
            async with using(make(limits, resolver=resolver)) as transport:
                with pytest.raises(ConnectFailed):
                    await post(transport, url)
                assert await post(transport, url) == (200, b"ok")
                assert resolver.asked == 2  # asked again right after the failure
                assert await post(transport, url) == (200, b"ok")  # a new connection, same answer
                assert resolver.asked == 2
                await asyncio.sleep(1.1)
                assert await post(transport, url) == (200, b"ok")
                assert resolver.asked == 3  # older than its max age: asked again

    run(scenario)


def test_an_idle_connection_is_closed_when_its_idle_time_is_up(make: Make) -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b"ok")) as server:
            limits = Limits(connect_timeout=1, idle_seconds=0.6)
            async with using(make(limits)) as transport:
                assert await post(transport, server.url()) == (200, b"ok")
                await asyncio.sleep(0.15)
                assert await post(transport, server.url()) == (200, b"ok")  # still kept: reused
                assert server.connections == 1
                released = time.monotonic()
                await asyncio.wait_for(server.closed.wait(), timeout=2)
                assert time.monotonic() - released <= 0.6 + 0.1  # no later than its idle time

    run(scenario)


def test_a_body_over_the_response_cap_is_refused(make: Make) -> None:
    async def scenario() -> None:
        limits = Limits(connect_timeout=1, max_response_bytes=4096)
        async with RawServer(length_answer(b"x" * 4097)) as big, using(make(limits)) as transport:
            with pytest.raises(ResponseTooLarge):
                await post(transport, big.url())
        async with RawServer(length_answer(b"x" * 4096)) as fits, using(make(limits)) as transport:
            assert await post(transport, fits.url()) == (200, b"x" * 4096)

    run(scenario)


def test_a_compressed_body_is_capped_by_its_unpacked_size(make: Make) -> None:
    packed = gzip.compress(b"\0" * 1_000_000)  # about 1 KiB on the wire

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed))
        writer.write(packed)
        return True

    async def scenario() -> None:
        limits = Limits(connect_timeout=1, max_response_bytes=65536)
        async with RawServer(answer) as server, using(make(limits)) as transport:
            with pytest.raises(ResponseTooLarge):
                await post(transport, server.url())

    run(scenario)


def test_an_event_over_the_event_cap_is_refused(make: Make) -> None:
    def stream(*events: bytes) -> bytes:
        body = b"".join(b"data: %b\n\n" % event for event in events)
        return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%b" % (
            len(body),
            body,
        )

    def answer_with(
        wire: bytes,
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
            for start in range(0, len(wire), 1000):  # in pieces, as a network delivers it
                writer.write(wire[start : start + 1000])
                await writer.drain()
            return True

        return answer

    async def scenario() -> None:
        limits = Limits(connect_timeout=1, max_event_bytes=2048)
        async with (
            RawServer(answer_with(stream(b"a" * 100, b"b" * 3000))) as server,
            using(make(limits)) as transport,
        ):
            with pytest.raises(ResponseTooLarge):
                await events(transport, server.url())
        async with (
            RawServer(answer_with(stream(*[b"c" * 1500] * 10))) as server,
            using(make(limits)) as transport,
        ):
            assert await events(transport, server.url()) == [b"c" * 1500] * 10

    run(scenario)


# --- TLS and proxies ------------------------------------------------------------------


def test_https_checks_the_certificate_and_the_host_name(make: Make, tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path)
    server_tls = authority.server_context("localhost")
    client_tls = ssl.create_default_context()
    authority.trust(client_tls)

    async def scenario() -> None:
        async with (
            RawServer(length_answer(b"secure"), tls=server_tls) as server,
            using(make(tls=client_tls)) as transport,
        ):
            assert await post(transport, server.url("https", "localhost")) == (200, b"secure")
            with pytest.raises(ConnectFailed):  # the certificate names localhost, not this address
                await post(transport, server.url("https", "127.0.0.1"))
            async with using(make()) as transport:
                with pytest.raises(ConnectFailed):  # an authority this client does not trust
                    await post(transport, server.url("https", "localhost"))

    run(scenario)


def test_https_goes_through_a_proxy_tunnel_with_the_proxys_credentials(make: Make, tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path)
    client_tls = ssl.create_default_context()
    authority.trust(client_tls)

    async def scenario() -> None:
        origin = RawServer(length_answer(b"tunnelled"), tls=authority.server_context("localhost"))
        async with origin, FakeProxy(credentials="ops:s3cret") as proxy:
            through = proxy_at(proxy.url("ops:s3cret"))
            async with using(make(tls=client_tls, proxy=through)) as transport:
                for _ in range(2):
                    assert await post(transport, origin.url("https", "localhost")) == (200, b"tunnelled")
        assert proxy.seen == [(f"CONNECT localhost:{origin.port} HTTP/1.1", "Basic b3BzOnMzY3JldA==")]
        assert b"Proxy-Authorization" not in origin.requests[0]  # the provider never sees it

    run(scenario)


def test_plain_http_through_a_proxy_names_the_whole_url(make: Make) -> None:
    async def scenario() -> None:
        async with (
            RawServer(length_answer(b"proxied")) as origin,
            FakeProxy(credentials="ops:pw") as proxy,
            using(make(proxy=proxy_at(proxy.url("ops:pw")))) as transport,
        ):
            assert await post(transport, origin.url()) == (200, b"proxied")
        assert proxy.seen == [(f"POST {origin.url()} HTTP/1.1", "Basic b3BzOnB3")]

    run(scenario)


def test_a_proxy_refusing_the_credentials_is_a_connect_error_that_does_not_repeat_them(make: Make) -> None:
    async def scenario() -> None:
        async with (
            FakeProxy(credentials="ops:right") as proxy,
            using(make(proxy=proxy_at(proxy.url("ops:wrong-pass")))) as transport,
        ):
            with pytest.raises(ConnectFailed) as refused:
                await post(transport, "https://localhost:9/v1")
        assert "407" in str(refused.value)
        assert "wrong-pass" not in str(refused.value)

    run(scenario)


def test_a_proxy_that_is_down_is_a_connect_error(make: Make) -> None:
    async def scenario() -> None:
        async with FakeProxy() as proxy:
            url = proxy.url()
        for target in ("https://localhost:9/v1", "http://127.0.0.1:9/v1"):
            async with using(make(proxy=proxy_at(url))) as transport:
                with pytest.raises(ConnectFailed):
                    await post(transport, target)

    run(scenario)


@pytest.mark.parametrize("url", ["https://proxy:3128", "proxy:3128", "http://proxy:port"])
def test_a_proxy_url_that_is_not_http_host_port_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        proxy_at(url)


def test_requests_waiting_for_a_connection_fail_when_the_transport_closes(make: Make) -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b"ok", delay=0.3)) as server:
            transport = make(Limits(max_connections=1, connect_timeout=1))
            busy = asyncio.ensure_future(post(transport, server.url()))
            await asyncio.sleep(0.05)
            waiting = asyncio.ensure_future(post(transport, server.url(), pool_timeout=5))
            await asyncio.sleep(0.05)
            await transport.aclose()
            for request in (busy, waiting):
                with pytest.raises((ConnectFailed, ConnectionDropped)):
                    await request
            with pytest.raises(ConnectFailed, match="closed"):
                await post(transport, server.url())
        assert len(server.requests) == 1

    run(scenario)
