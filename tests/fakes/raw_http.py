"""A raw HTTP/1.1 server on a loopback port that frames its answers exactly as a test scripts them.

It counts connections (in total and at once) and records every request it read whole.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]
"""Writes one answer to the request numbered n on its connection; False closes the connection."""


@dataclass
class RawServer:
    answer: Answer
    tls: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    open_now: int = 0
    peak: int = 0
    """Most connections open at once."""
    requests: list[bytes] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}/v1/chat/completions"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.peak = max(self.peak, self.open_now)
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
            self.open_now -= 1
            writer.close()
            self.closed.set()


def length_answer(body: bytes, extra: bytes = b"", delay: float = 0.0) -> Answer:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        if delay:
            await asyncio.sleep(delay)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), extra, body))
        await writer.drain()
        return b"Connection: close" not in extra

    return answer


class Blackhole:
    """A port where connecting hangs: a listener whose one-place backlog is already taken,
    so the kernel ignores further SYNs (an address whose route goes nowhere)."""

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.bind((host, port))
        self._listener.listen(0)
        self._filler = socket.socket(family, socket.SOCK_STREAM)
        self._filler.connect((host, port))

    def close(self) -> None:
        self._filler.close()
        self._listener.close()
