"""A forward HTTP proxy on a loopback port: CONNECT tunnels, and absolute-form requests piped on.

It records the first line and the `Proxy-Authorization` of what reaches it, and answers 407
when it was given credentials that the client does not send.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class FakeProxy:
    credentials: str | None = None
    """`user:password` the proxy requires, or None for an open proxy."""
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    """(first line, Proxy-Authorization) of each connection."""
    port: int = 0

    async def __aenter__(self) -> FakeProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    def url(self, credentials: str | None = None) -> str:
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            writer.close()
            return
        first, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        self.seen.append((first, headers.get("proxy-authorization")))
        expected = (
            "Basic " + base64.b64encode(self.credentials.encode()).decode() if self.credentials else None
        )
        if expected and headers.get("proxy-authorization") != expected:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        method, target, _ = first.split(" ", 2)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            parts = urlsplit(target)
            upstream_reader, upstream_writer = await asyncio.open_connection(parts.hostname, parts.port)
            upstream_writer.write(head)  # servers accept the absolute form as it is
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.close()
