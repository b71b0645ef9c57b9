"""Each vendor's error table, row by row, on the error bodies the vendor really sends."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from calcifer.errors import (
    ContextWindowExceeded,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from calcifer.providers import anthropic, google, openai
from calcifer.providers.upstream_errors import ErrorRow, ErrorTable, VendorError, generic_status_error

# A real message for the rows that read one (the vendor sends no code for it).
MESSAGES = {
    "openai": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
    "anthropic": "prompt is too long: 215000 tokens > 200000 maximum",
    "google": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
}
# The status each vendor sends with an error kind, when a row does not name one.
STATUSES = {
    "context_length_exceeded": 400,
    "insufficient_quota": 429,
    "invalid_api_key": 401,
    "rate_limit_exceeded": 429,
    "server_error": 500,
    "invalid_request_error": 400,
    "request_too_large": 413,
    "not_found_error": 404,
    "authentication_error": 401,
    "permission_error": 403,
    "billing_error": 402,
    "rate_limit_error": 429,
    "timeout_error": 504,
    "api_error": 500,
    "overloaded_error": 529,
    "API_KEY_INVALID": 400,
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "FAILED_PRECONDITION": 400,
    "RESOURCE_EXHAUSTED": 429,
    "DEADLINE_EXCEEDED": 504,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
}


def openai_body(kind: str | None, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": kind}}


def anthropic_body(kind: str | None, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011"}


def google_body(kind: str | None, message: str) -> dict[str, Any]:
    if kind == "API_KEY_INVALID":
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": kind,
            "domain": "googleapis.com",
        }
        return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT", "details": [info]}}
    return {"error": {"code": STATUSES.get(kind or "", 400), "message": message, "status": kind}}


VENDORS = {
    "openai": (openai.ERROR_TABLE, openai_body),
    "anthropic": (anthropic.ERROR_TABLE, anthropic_body),
    "google": (google.ERROR_TABLE, google_body),
}
ROWS = [(vendor, row) for vendor, (table, _) in VENDORS.items() for row in table.rows]


def _message(vendor: str, row: ErrorRow) -> str:
    return MESSAGES[vendor] if row.message is not None else "something went wrong"


@pytest.mark.parametrize(
    ("vendor", "row"), ROWS, ids=[f"{v}-{r.status}-{r.kind}-{r.error.__name__}" for v, r in ROWS]
)
def test_each_row_gives_its_error(vendor: str, row: ErrorRow) -> None:
    table, body = VENDORS[vendor]
    status = row.status or STATUSES[row.kind or ""]
    raw = orjson.dumps(body(row.kind, _message(vendor, row)))
    error = table(vendor, status, raw, {"retry-after": "3"})
    assert type(error) is row.error  # an earlier row shadowing this one fails here too
    assert error.provider == vendor


@pytest.mark.parametrize("vendor", VENDORS)
def test_context_window_rows_need_their_wording_where_they_read_it(vendor: str) -> None:
    table, body = VENDORS[vendor]
    kind = {"openai": None, "anthropic": "invalid_request_error", "google": "INVALID_ARGUMENT"}[vendor]
    assert isinstance(
        table(vendor, 400, orjson.dumps(body(kind, MESSAGES[vendor])), {}), ContextWindowExceeded
    )
    plain = table(vendor, 400, orjson.dumps(body(kind, "messages.0: bad field")), {})
    assert type(plain) is UpstreamRejected


def test_openai_context_code_wins_whatever_the_wording() -> None:
    raw = orjson.dumps(openai_body("context_length_exceeded", "Input is over the limit."))
    assert isinstance(openai.ERROR_TABLE("openai", 400, raw, {}), ContextWindowExceeded)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, UpstreamRejected),
        (401, UpstreamAuthFailed),
        (404, UpstreamRejected),
        (422, UpstreamRejected),
        (429, UpstreamRateLimited),
        (500, UpstreamUnavailable),
        (529, UpstreamUnavailable),
    ],
)
@pytest.mark.parametrize("vendor", VENDORS)
def test_an_unknown_kind_falls_back_to_what_its_status_means(
    vendor: str, status: int, expected: type[UpstreamError]
) -> None:
    table, body = VENDORS[vendor]
    error = table(vendor, status, orjson.dumps(body("brand_new_error", "new")), {})
    assert type(error) is expected
    assert type(table(vendor, status, b"<html>bad gateway</html>", {})) is expected


def test_a_rate_limit_keeps_the_providers_retry_after() -> None:
    raw = orjson.dumps(anthropic_body("rate_limit_error", "slow down"))
    error = anthropic.ERROR_TABLE("anthropic", 429, raw, {"retry-after": "7"})
    assert isinstance(error, UpstreamRateLimited) and error.retry_after == 7


def test_credentials_quoted_by_the_provider_are_not_passed_on() -> None:
    raw = orjson.dumps(openai_body("invalid_api_key", "Incorrect API key provided: sk-abc***xyz"))
    error = openai.ERROR_TABLE("openai", 401, raw, {})
    assert isinstance(error, UpstreamAuthFailed) and "sk-" not in error.message


def test_an_error_sent_mid_stream_has_no_status_and_is_read_by_its_kind() -> None:
    assert isinstance(
        openai.ERROR_TABLE.error("openai", None, openai_body("rate_limit_exceeded", "x")), UpstreamRateLimited
    )
    assert (
        type(openai.ERROR_TABLE.error("openai", None, {"error": {"message": "boom"}})) is UpstreamUnavailable
    )
    overloaded = anthropic.ERROR_TABLE.error(
        "anthropic", None, anthropic_body("overloaded_error", "Overloaded")
    )
    assert type(overloaded) is UpstreamUnavailable and "mid-stream" in overloaded.message


def test_the_default_mapper_reads_the_message_and_the_status() -> None:
    error = generic_status_error(
        "local", 400, b'{"error": {"message": "maximum context length is 4096"}}', {}
    )
    assert isinstance(error, ContextWindowExceeded)
    assert type(generic_status_error("local", 503, b"", {})) is UpstreamUnavailable


def test_rows_match_on_status_kind_and_wording() -> None:
    table = ErrorTable(
        [
            ErrorRow(400, "x", ContextWindowExceeded, re.compile("too long")),
            ErrorRow(None, "x", UpstreamUnavailable),
        ],
        lambda body: VendorError(body["error"]["code"], body["error"]["message"]),
    )
    assert type(table("p", 400, orjson.dumps(openai_body("x", "too long")), {})) is ContextWindowExceeded
    assert type(table("p", 413, orjson.dumps(openai_body("x", "too long")), {})) is UpstreamUnavailable
    assert type(table("p", 400, orjson.dumps(openai_body("y", "too long")), {})) is UpstreamRejected
