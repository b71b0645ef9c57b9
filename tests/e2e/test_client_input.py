"""Whatever a client sends, the gateway answers with a JSON error below 500, never a 500 or
a dropped connection: odd JSON, odd header bytes, odd `Expect`, odd paths, huge headers."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway_process import GatewayProcess

CHAT = "/v1/chat/completions"
SEED = "/v1/completions"
HELLO = [{"role": "user", "content": "hi"}]


def raw_request(gateway: GatewayProcess, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes no HTTP client library would; the status and the response's body bytes."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head + body)
        received = b""
        while b"\r\n\r\n" not in received:
            piece = sock.recv(65536)
            assert piece, f"connection closed without an answer; got {received!r}"
            received += piece
        status_line, _, rest = received.partition(b"\r\n")
        return int(status_line.split()[1]), rest


@pytest.mark.parametrize("path", [CHAT, SEED])
@pytest.mark.parametrize("role", [["user"], {"name": "user"}])
def test_a_role_that_is_a_list_or_object_is_a_400(gateway: GatewayProcess, path: str, role: Any) -> None:
    body = {"model": "echo4", "messages": [{"role": role, "content": "hi"}]}
    response = httpx.post(gateway.url + path, json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].role"


def test_a_non_ascii_byte_in_x_provider_is_a_400(gateway: GatewayProcess) -> None:
    body = b'{"model": "echo4", "messages": [{"role": "user", "content": "hi"}]}'
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Provider: op\xffenai\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    status, rest = raw_request(gateway, head, body)
    assert status == 400, rest
    assert b'"param":"X-Provider"' in rest


def test_an_unknown_expectation_is_a_417(gateway: GatewayProcess) -> None:
    response = httpx.post(
        gateway.url + CHAT, json={"model": "echo4", "messages": HELLO}, headers={"Expect": "magic"}
    )
    assert response.status_code == 417
    assert response.json()["error"]["code"] == "expectation_failed"


def test_a_nul_in_the_path_is_answered_not_dropped(gateway: GatewayProcess) -> None:
    status, _ = raw_request(gateway, b"GET /v1/mod\x00els HTTP/1.1\r\nHost: x\r\n\r\n")
    assert 400 <= status < 500


@pytest.mark.parametrize(
    "head",
    [
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
        b"GET /v1/models?q=" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["header", "url"],
)
def test_oversized_headers_or_url_are_a_431(gateway: GatewayProcess, head: bytes) -> None:
    status, rest = raw_request(gateway, head)
    assert status == 431, rest


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_message = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["user", "system", "assistant", "tool", "wizard"]) | _json,
        "content": st.text(max_size=40) | _json,
        "name": _json,
    },
)
_body = (
    st.fixed_dictionaries(
        {},
        optional={
            # Only models that answer without an upstream: a 5xx here can only be the gateway's.
            "model": st.sampled_from(["echo4", "no-such-model"]) | _json,
            "messages": st.lists(_message, max_size=3) | _json,
            "stream": st.booleans() | _json,
            "stream_options": st.fixed_dictionaries({}, optional={"include_usage": _json}) | _json,
            "temperature": _json,
            "max_tokens": _json,
            "stop": _json,
            "tools": _json,
            "metadata": _json,
            "response_format": _json,
        },
    )
    | _json
)


@pytest.mark.parametrize("path", [CHAT, SEED])
def test_no_generated_body_gets_a_5xx(gateway: GatewayProcess, path: str) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=_body)
        def check(body: Any) -> None:
            # Python's encoder writes NaN and Infinity, which are not JSON: a client may too.
            encoded = json.dumps(body).encode()
            response = client.post(path, content=encoded, headers={"Content-Type": "application/json"})
            assert response.status_code < 500, (body, response.text)

        check()


BROWSER_SIMPLE_TYPES = ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"]


@pytest.mark.parametrize("path", [CHAT, SEED])
@pytest.mark.parametrize("content_type", [*BROWSER_SIMPLE_TYPES, "multipart/form-data; boundary=x", None])
def test_a_body_that_is_not_declared_json_is_a_415(
    gateway: GatewayProcess, path: str, content_type: str | None
) -> None:
    """A web page may POST text/plain to any origin without a CORS pre-flight: unless the body
    is declared JSON, such a page could spend the gateway's provider keys."""
    body = json.dumps({"model": "echo4", "messages": HELLO}).encode()
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = httpx.post(gateway.url + path, content=body, headers=headers, timeout=10)
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "application/json" in error["message"]
    assert response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_with_parameters_or_any_case_is_accepted(gateway: GatewayProcess, content_type: str) -> None:
    body = json.dumps({"model": "echo4", "messages": HELLO}).encode()
    response = httpx.post(
        gateway.url + CHAT, content=body, headers={"Content-Type": content_type}, timeout=10
    )
    assert response.status_code == 200, response.text
