"""Slow clients against the real gateway over raw sockets: a slow reader gets its whole answer
(or a closed connection and a logged error), a slow sender is answered 408 within the read bound,
and a crowd of idle connections neither holds the worker forever nor locks others out."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.gateway_process import GatewayProcess

READ_TIMEOUT = 1.5
MAX_CONNECTIONS = 24

CATALOG = """
providers:
  echo:
    kind: echo
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
  echo4:
    provider: echo
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


# -- item 12: slow senders are bounded, connections are capped --------------------------------

HEAD_START = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
ECHO_BODY = {"model": "echo4", "messages": [{"role": "user", "content": "hello there"}]}


def ask_echo(client: httpx.Client, gateway: GatewayProcess) -> httpx.Response:
    return client.post(gateway.url + "/v1/chat/completions", json=ECHO_BODY, timeout=5)


def drip(sock: socket.socket, data: bytes, every: float, until: float) -> bytes:
    """Send `data` a byte at a time until the gateway answers or closes: what it answered."""
    sock.setblocking(False)
    answer = b""
    for byte in data:
        if time.monotonic() > until:
            break
        try:
            sock.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(every)
        try:
            piece = sock.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            break
        answer += piece
        if not piece or b"\r\n\r\n" in answer:
            break
    sock.settimeout(2)
    try:
        while piece := sock.recv(65536):
            answer += piece
    except (TimeoutError, ConnectionResetError):
        pass
    return answer


def assert_request_timeout(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(head) == 408, answer[:300]
    error = json.loads(body)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_timeout"), error


def test_dripped_head_is_answered_408_and_closed_within_the_read_timeout(gateway: GatewayProcess) -> None:
    started = time.monotonic()
    with connect(gateway) as sock:
        # One byte every 0.2 s: each one used to restart the read timeout, forever.
        answer = drip(sock, HEAD_START + b"X-Padding: " + b"a" * 200, every=0.2, until=started + 6)
    assert time.monotonic() - started < READ_TIMEOUT + 1.5
    assert_request_timeout(answer)


def test_incomplete_body_is_answered_408_after_the_read_timeout(gateway: GatewayProcess) -> None:
    started = time.monotonic()
    with connect(gateway) as sock:
        sock.sendall(HEAD_START + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        sock.settimeout(6)
        answer = b""
        while piece := sock.recv(65536):
            answer += piece
    assert time.monotonic() - started < READ_TIMEOUT + 1.5
    assert_request_timeout(answer)


def test_dripped_body_is_answered_408_within_the_read_timeout(gateway: GatewayProcess) -> None:
    started = time.monotonic()
    with connect(gateway) as sock:
        sock.sendall(HEAD_START + b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n")
        answer = drip(sock, b" " * 200, every=0.1, until=started + 6)
    assert time.monotonic() - started < READ_TIMEOUT + 1.5
    assert_request_timeout(answer)


def test_keep_alive_client_is_not_timed_out_across_requests(gateway: GatewayProcess) -> None:
    # Requests on one connection over longer than the read timeout: each is timed on its own.
    local_ends = set()
    with httpx.Client() as client:
        for _ in range(5):
            response = ask_echo(client, gateway)
            assert response.status_code == 200, response.text
            local_ends.add(response.extensions["network_stream"].get_extra_info("client_addr"))
            time.sleep(0.45)
    assert len(local_ends) == 1  # one connection served them all


def refused_at_once(gateway: GatewayProcess) -> bool:
    with connect(gateway) as sock:
        sock.settimeout(1)
        try:
            sock.sendall(chat_request())
            return sock.recv(65536) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


def test_connections_beyond_the_cap_are_closed_and_others_still_served(gateway: GatewayProcess) -> None:
    with httpx.Client() as client:
        assert ask_echo(client, gateway).status_code == 200  # holds one connection from here on
        slow = [connect(gateway) for _ in range(MAX_CONNECTIONS - 1)]
        try:
            for sock in slow:
                sock.sendall(HEAD_START)  # a request begun, never finished
            time.sleep(0.2)
            assert refused_at_once(gateway)
            assert ask_echo(client, gateway).status_code == 200  # the open connection still works
        finally:
            for sock in slow:
                sock.close()
    time.sleep(0.3)
    with httpx.Client() as client:
        assert ask_echo(client, gateway).status_code == 200


def test_slowloris_neither_holds_connections_nor_stops_normal_traffic(gateway: GatewayProcess) -> None:
    held: list[float] = []
    stop = threading.Event()

    def attacker() -> None:
        while not stop.is_set():
            started = time.monotonic()
            with connect(gateway) as sock:
                drip(sock, HEAD_START + b"X-a: " + b"b" * 1000, every=0.2, until=started + 8)
            held.append(time.monotonic() - started)

    attackers = [threading.Thread(target=attacker) for _ in range(MAX_CONNECTIONS // 2)]
    for thread in attackers:
        thread.start()
    try:
        latencies = []
        with httpx.Client() as client:
            deadline = time.monotonic() + READ_TIMEOUT + 1.5
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert ask_echo(client, gateway).status_code == 200
                latencies.append(time.monotonic() - started)
                time.sleep(0.05)
    finally:
        stop.set()
        for thread in attackers:
            thread.join(timeout=10)
    assert max(latencies) < 0.5, max(latencies)
    assert held and max(held) < READ_TIMEOUT + 1.5, held
