"""Slow clients against the real gateway over raw sockets: a slow reader gets its whole answer
(or a closed connection and a logged error), a slow sender is answered 408 within the read bound,
and a crowd of idle connections neither holds the worker forever nor locks others out."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

READ_TIMEOUT = 1.5
MAX_CONNECTIONS = 24

CATALOG = """
providers:
  vendor:
    kind: openai
    api_key_env: FAKE_OPENAI_KEY
    base_url: {url}
    max_retries: 0
models:
  big:
    provider: vendor
    upstream_model: big
    pricing: {{input: 1, output: 1}}
"""


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.server.start()
    yield fake
    fake.server.stop()


def start_gateway(workdir: Path, upstream: FakeOpenAI, write_timeout: float) -> GatewayProcess:
    server = (
        f"  read_timeout: {READ_TIMEOUT}\n  write_timeout: {write_timeout}\n  keep_alive_timeout: 1\n"
        f"  max_connections: {MAX_CONNECTIONS}\n"
    )
    catalog = CATALOG.format(url=upstream.base_url)
    env = {"FAKE_OPENAI_KEY": UPSTREAM_KEY}
    return GatewayProcess(workdir, catalog, env=env, server_extra=server).start()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, slow_upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    process = start_gateway(tmp_path_factory.mktemp("slow-clients"), slow_upstream, write_timeout=10)
    yield process
    process.stop()


def connect(gateway: GatewayProcess, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket()
    if receive_buffer:
        # Before connecting: the window the client announces stays small, so the gateway's
        # bytes wait on its side instead of piling up in this socket.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", gateway.port))
    return sock


def chat_request(body: bytes | None = None, extra: bytes = b"") -> bytes:
    body = body or json.dumps({"model": "big", "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    return head + b"Content-Length: %d\r\n%b\r\n" % (len(body), extra) + body


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The response head and whatever body bytes came with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"closed before a response head: {data!r}")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError(f"no Content-Length in {head!r}")


def status_of(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


# -- item 9: a slow reader gets the whole answer -------------------------------------------------


def read_answer(sock: socket.socket, pause: float) -> tuple[int, bytes]:
    """Send a chat request, read the head, read nothing for `pause` seconds, then read on as fast
    as possible: the announced length and the body bytes that arrived."""
    sock.sendall(chat_request())
    head, body = read_head(sock)
    assert status_of(head) == 200, head
    time.sleep(pause)
    try:
        while piece := sock.recv(1 << 20):
            body += piece
            if len(body) >= content_length(head):
                break
    except ConnectionResetError:
        pass
    return content_length(head), body


def test_slow_reader_receives_the_whole_announced_body(
    gateway: GatewayProcess, slow_upstream: FakeOpenAI
) -> None:
    # A reader that takes its time: 7 s without reading outlasts the keep-alive timeout plus
    # Sanic's 5-second grace for unsent bytes, which used to abort the connection mid-body
    # (8 MB: more than the kernel's socket buffers hold, so most of it waits in the gateway).
    text = "x" * 8_000_000
    slow_upstream.script(Behaviour(text=text))
    with connect(gateway, receive_buffer=64 * 1024) as sock:
        sock.settimeout(10)
        expected, body = read_answer(sock, pause=7)
    assert len(body) == expected, f"cut at {len(body)} of {expected} bytes"
    assert json.loads(body)["choices"][0]["message"]["content"] == text


def test_reader_that_stops_reading_is_closed_with_a_logged_error(
    tmp_path: Path, slow_upstream: FakeOpenAI
) -> None:
    gateway = start_gateway(tmp_path, slow_upstream, write_timeout=1.5)
    try:
        slow_upstream.script(Behaviour(text="y" * 8_000_000))
        with connect(gateway, receive_buffer=64 * 1024) as sock:
            sock.settimeout(10)
            # Reading nothing for longer than the write timeout: the gateway gives up on this client.
            expected, body = read_answer(sock, pause=4)
        assert len(body) < expected
        deadline = time.monotonic() + 3
        while "response cut" not in gateway.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        line = next(line for line in gateway.log().splitlines() if "response cut" in line)
        assert json.loads(line)["level"] == "ERROR", line
    finally:
        gateway.stop()
