"""The providers' HTTP client against raw socket servers that frame their answers exactly as scripted."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvloop

from calcifer.catalog.model import ProxyAddress
from calcifer.transport.http_client import ConnectError, ConnectionDropped, HttpClient
from calcifer.transport.http_proxy import Proxy
from tests.fakes.proxy import FakeProxy
from tests.fakes.tls import CertificateAuthority

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]
"""Reads nothing more, writes one answer to the request numbered n on its connection;
False closes the connection."""


@dataclass
class RawServer:
    answer: Answer
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}/v1/chat/completions"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for number in range(1_000):
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                if not await self.answer(reader, writer, number):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.closed.set()


def length_answer(body: bytes, extra: bytes = b"") -> Answer:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), extra, body))
        await writer.drain()
        return True

    return answer


async def post(client: HttpClient, url: str, body: bytes = b"{}") -> tuple[int, bytes]:
    response = await client.post(url, body, {"Content-Type": "application/json"})
    payload = await response.read()
    response.release()
    return response.status, payload


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """On asyncio's loop and on uvloop, which the gateway runs on (their TLS paths differ)."""
    for new_loop in (asyncio.new_event_loop, uvloop.new_event_loop):
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(asyncio.wait_for(scenario(), timeout=10))


def proxy_at(url: str) -> Proxy:
    """The proxy as the catalog and the adapters make it from a provider's `proxy` URL."""
    return Proxy.of(ProxyAddress.parse(url))


def test_requests_in_turn_share_one_kept_alive_connection() -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b'{"ok":true}')) as server:
            client = HttpClient(connect_timeout=1)
            for _ in range(3):
                assert await post(client, server.url(), b'{"n":1}') == (200, b'{"ok":true}')
            await client.aclose()
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
def test_answer_bodies_are_read_however_they_are_framed(wire: bytes, body: bytes) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n" + wire)
        await writer.drain()
        return b"Connection: close" not in wire

    async def scenario() -> None:
        async with RawServer(answer) as server:
            assert await post(HttpClient(connect_timeout=1), server.url()) == (200, body)

    run(scenario)


def test_status_and_headers_of_an_error_answer_are_kept() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}")
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server:
            response = await HttpClient(connect_timeout=1).post(server.url(), b"{}", {})
            assert (response.status, response.headers["retry-after"]) == (429, "7")
            assert await response.read() == b"{}"

    run(scenario)


def test_interim_answers_are_skipped_for_the_final_one() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server:
            client = HttpClient(connect_timeout=1)
            response = await client.post(server.url(), b"{}", {})
            assert (response.status, "link" in response.headers) == (200, False)
            assert await response.read() == b"final"
            response.release()
            assert await post(client, server.url()) == (200, b"final")  # and the connection is kept

    run(scenario)


def test_a_stream_released_before_its_last_chunk_arrives_still_returns_its_connection() -> None:
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
        async with RawServer(answer) as server:
            client = HttpClient(connect_timeout=1)
            response = await client.post(server.url(), b"{}", {})
            assert await response.next_piece() == b"data: [DONE]\n\n"
            response.release()
            await asyncio.sleep(0.1)
            assert await post(client, server.url()) == (200, b"data: [DONE]\n\n")
        assert server.connections == 1

    run(scenario)


def test_an_unread_body_stops_the_reading_until_it_is_read() -> None:
    size = 16 * 1024 * 1024
    drained = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)
        await writer.drain()
        drained.set()
        return True

    async def scenario() -> None:
        drained.clear()
        async with RawServer(answer) as server:
            client = HttpClient(connect_timeout=1)
            response = await client.post(server.url(), b"{}", {})
            await asyncio.sleep(0.3)
            assert not drained.is_set()  # the client holds a bounded buffer, the rest waits
            assert len(await response.read()) == size
            await asyncio.wait_for(drained.wait(), timeout=2)

    run(scenario)


def test_a_kept_connection_the_server_dropped_is_replaced_without_failing_the_request() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            return False  # read the second request, close without a word: a keep-alive race
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server:
            client = HttpClient(connect_timeout=1)
            assert await post(client, server.url()) == (200, b"ok")
            assert await post(client, server.url()) == (200, b"ok")
        assert server.connections == 2

    run(scenario)


def test_a_kept_connection_dropped_after_the_server_had_time_to_work_is_not_sent_twice() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            await asyncio.sleep(1.2)  # the server took the request, then failed without a word
            return False
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server:
            client = HttpClient(connect_timeout=1)
            assert await post(client, server.url()) == (200, b"ok")
            with pytest.raises(ConnectionDropped):
                await post(client, server.url())
        assert (server.connections, len(server.requests)) == (1, 2)

    run(scenario)


def test_a_new_connection_closed_without_an_answer_fails_once() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        return False

    async def scenario() -> None:
        async with RawServer(answer) as server:
            with pytest.raises(ConnectionDropped):
                await post(HttpClient(connect_timeout=1), server.url())
        assert server.connections == 1

    run(scenario)


def test_a_body_cut_short_fails_instead_of_looking_complete() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")
        await writer.drain()
        return False

    async def scenario() -> None:
        async with RawServer(answer) as server:
            with pytest.raises(ConnectionDropped):
                await post(HttpClient(connect_timeout=1), server.url())

    run(scenario)


def test_an_answer_that_is_not_http_fails() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server:
            with pytest.raises(ConnectionDropped, match="not valid HTTP"):
                await post(HttpClient(connect_timeout=1), server.url())

    run(scenario)


def test_closing_an_unfinished_answer_drops_the_connection() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):  # a long generation; the server learns of the abandon when it reads
            writer.write(b"4\r\ntok \r\n")
            await writer.drain()
            if await _peer_closed(reader):
                return False
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server:
            response = await HttpClient(connect_timeout=1).post(server.url(), b"{}", {})
            await response.next_piece()
            response.close()
            await asyncio.wait_for(server.closed.wait(), timeout=2)

    run(scenario)


async def _peer_closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), timeout=0.02) == b""
    except TimeoutError:
        return False


def test_an_unreachable_server_is_a_connect_error() -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b"")) as server:
            port = server.port
        with pytest.raises(ConnectError):
            await post(HttpClient(connect_timeout=1), f"http://127.0.0.1:{port}/v1")

    run(scenario)


def test_header_values_cannot_smuggle_a_second_request() -> None:
    async def scenario() -> None:
        with pytest.raises(ConnectError, match="line break"):
            await HttpClient(connect_timeout=1).post("http://127.0.0.1:9/v1", b"", {"X-A": "1\r\nX-B: 2"})

    run(scenario)


def test_https_checks_the_certificate_and_the_host_name(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path)
    server_tls = authority.server_context("localhost")
    client_tls = ssl.create_default_context()
    authority.trust(client_tls)

    async def scenario() -> None:
        async with RawServer(length_answer(b"secure"), tls=server_tls) as server:
            client = HttpClient(connect_timeout=1, tls=client_tls)
            assert await post(client, server.url("https", "localhost")) == (200, b"secure")
            with pytest.raises(ConnectError):  # the certificate names localhost, not this address
                await post(client, server.url("https", "127.0.0.1"))
            with pytest.raises(ConnectError):  # an authority this client does not trust
                await post(HttpClient(connect_timeout=1), server.url("https", "localhost"))

    run(scenario)


def test_https_goes_through_a_proxy_tunnel_with_the_proxys_credentials(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path)
    client_tls = ssl.create_default_context()
    authority.trust(client_tls)

    async def scenario() -> None:
        origin = RawServer(length_answer(b"tunnelled"), tls=authority.server_context("localhost"))
        async with origin, FakeProxy(credentials="ops:s3cret") as proxy:
            through = proxy_at(proxy.url("ops:s3cret"))
            client = HttpClient(connect_timeout=1, tls=client_tls, proxy=through)
            for _ in range(2):
                assert await post(client, origin.url("https", "localhost")) == (200, b"tunnelled")
        assert proxy.seen == [(f"CONNECT localhost:{origin.port} HTTP/1.1", "Basic b3BzOnMzY3JldA==")]
        assert b"Proxy-Authorization" not in origin.requests[0]  # the provider never sees it

    run(scenario)


def test_plain_http_through_a_proxy_names_the_whole_url() -> None:
    async def scenario() -> None:
        async with RawServer(length_answer(b"proxied")) as origin, FakeProxy(credentials="ops:pw") as proxy:
            client = HttpClient(connect_timeout=1, proxy=proxy_at(proxy.url("ops:pw")))
            assert await post(client, origin.url()) == (200, b"proxied")
        assert proxy.seen == [(f"POST {origin.url()} HTTP/1.1", "Basic b3BzOnB3")]

    run(scenario)


def test_a_proxy_refusing_the_credentials_is_a_connect_error_that_does_not_repeat_them(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with FakeProxy(credentials="ops:right") as proxy:
            client = HttpClient(connect_timeout=1, proxy=proxy_at(proxy.url("ops:wrong-pass")))
            with pytest.raises(ConnectError) as refused:
                await post(client, "https://localhost:9/v1")
        assert "407" in str(refused.value) and "credentials were refused" in str(refused.value)
        assert "wrong-pass" not in str(refused.value)

    run(scenario)


def test_a_proxy_that_is_down_is_a_connect_error() -> None:
    async def scenario() -> None:
        async with FakeProxy() as proxy:
            url = proxy.url()
        for target in ("https://localhost:9/v1", "http://127.0.0.1:9/v1"):
            with pytest.raises(ConnectError):
                await post(HttpClient(connect_timeout=1, proxy=proxy_at(url)), target)

    run(scenario)


@pytest.mark.parametrize("url", ["https://proxy:3128", "proxy:3128", "http://proxy:port"])
def test_a_proxy_url_that_is_not_http_host_port_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        proxy_at(url)
