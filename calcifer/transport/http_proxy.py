"""An HTTP proxy on the way to a provider: a CONNECT tunnel for HTTPS, absolute-form requests for HTTP.

The catalog parses the proxy's URL (`ProxyAddress`); its credentials become a
`Proxy-Authorization` header and appear in no message this module writes.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field

from calcifer.catalog.model import ProxyAddress

__all__ = ["Proxy", "ProxyRefused"]

_MAX_ANSWER = 16 * 1024


class ProxyRefused(OSError):
    """The proxy could not be reached, or would not open a tunnel."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)
    """The `Proxy-Authorization` header value, when the URL has credentials."""

    @classmethod
    def of(cls, address: ProxyAddress) -> Proxy:
        if address.user is None:
            return cls(address.host, address.port)
        password = address.password.reveal() if address.password else ""
        pair = f"{address.user}:{password}".encode()
        return cls(address.host, address.port, "Basic " + base64.b64encode(pair).decode())

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    def headers(self) -> dict[str, str]:
        """Headers a request sent through this proxy adds."""
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}

    async def tunnel(self, host: str, port: int) -> asyncio.Transport:
        """A TCP connection through the proxy to host:port, ready for TLS."""
        loop = asyncio.get_running_loop()
        try:
            transport, answer = await loop.create_connection(_ConnectAnswer, self.host, self.port)
        except OSError as exc:
            raise ProxyRefused(f"the proxy {self.name} could not be reached: {exc}") from exc
        lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers().items()]
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            status = await answer.status
        except BaseException:
            transport.abort()
            raise
        if status != 200:
            transport.abort()
            hint = " (its credentials were refused)" if status == 407 else ""
            raise ProxyRefused(
                f"the proxy {self.name} refused a tunnel to {host}:{port}: HTTP {status}{hint}"
            )
        return transport


class _ConnectAnswer(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: a status line and headers, no body."""

    def __init__(self) -> None:
        self.status: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._received = b""

    def data_received(self, data: bytes) -> None:
        if self.status.done():
            return  # the server speaks first only after TLS starts; nothing to read here
        self._received += data
        head, found, _ = self._received.partition(b"\r\n\r\n")
        if found:
            try:
                self.status.set_result(_status_of(head))
            except ProxyRefused as exc:
                self.status.set_exception(exc)
        elif len(self._received) > _MAX_ANSWER:
            self.status.set_exception(ProxyRefused("the proxy's answer to CONNECT is not HTTP"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_exception(ProxyRefused("the proxy closed the connection instead of a tunnel"))


def _status_of(head: bytes) -> int:
    fields = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
        raise ProxyRefused("the proxy's answer to CONNECT is not HTTP")
    return int(fields[1])
