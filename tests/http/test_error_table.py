"""Each error class maps to the status, type and code a client expects."""

from __future__ import annotations

from datetime import date

import pytest
from sanic import exceptions as sanic_exceptions

from calcifer import errors
from calcifer.http.errors import ERROR_TABLE, RequestHeadTooLarge, error_row, http_error


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.InvalidRequest("bad", param="x"), 400, "invalid_request"),
        (errors.UnsupportedFeature("no tools"), 400, "unsupported_feature"),
        (errors.ModelNotFound("gpt-9"), 404, "model_not_found"),
        (errors.ModelRetired("gpt-4", date(2026, 1, 1), "gpt-5"), 410, "model_retired"),
        (errors.ProviderMismatch("no"), 400, "provider_mismatch"),
        (errors.PayloadTooLarge("big"), 413, "payload_too_large"),
        (errors.ProviderNotConfigured("no key"), 503, "provider_not_configured"),
        (errors.UpstreamRejected("bad", provider="p", status=422), 422, "upstream_rejected"),
        (errors.UpstreamRejected("bad", provider="p", status=None), 400, "upstream_rejected"),
        (errors.UpstreamRateLimited("slow", provider="p", retry_after=2.4), 429, "rate_limit_exceeded"),
        (errors.UpstreamAuthFailed("key", provider="p", status=401), 502, "upstream_auth_failed"),
        (errors.UpstreamUnavailable("down", provider="p", status=503), 502, "upstream_unavailable"),
        (errors.UpstreamTimeout("slow", provider="p"), 504, "upstream_timeout"),
        (errors.UpstreamProtocolError("lies", provider="p"), 502, "upstream_bad_response"),
        (sanic_exceptions.NotFound("x"), 404, "not_found"),
        (sanic_exceptions.PayloadTooLarge("x"), 413, "payload_too_large"),
        (sanic_exceptions.ServiceUnavailable("x"), 504, "response_timeout"),
        (RuntimeError("secret internals"), 500, "internal_error"),
    ],
)
def test_error_maps_to_status_and_code(error: BaseException, status: int, code: str) -> None:
    got_status, body, _ = http_error(error, "req-1")
    assert (got_status, body["error"]["code"]) == (status, code)
    assert set(body["error"]) >= {"message", "type", "code", "param"}


def test_unexpected_errors_never_leak_their_text() -> None:
    _, body, _ = http_error(RuntimeError("password=hunter2"), "req-9")
    assert "hunter2" not in body["error"]["message"]
    assert "req-9" in body["error"]["message"]


def test_rate_limit_keeps_retry_after_and_upstream_errors_name_the_provider() -> None:
    _, body, headers = http_error(errors.UpstreamRateLimited("slow", provider="openai", retry_after=2.4))
    assert headers == {"Retry-After": "3"}  # rounded up: never invite a client back too early
    assert body["error"]["provider"] == "openai"


def test_every_calcifer_error_class_has_a_row_or_inherits_one() -> None:
    classes = [
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.CalciferError)
    ]
    for cls in classes:
        assert any(base in ERROR_TABLE for base in cls.__mro__)
    assert ERROR_TABLE[errors.CalciferError].status == 500


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (sanic_exceptions.ExpectationFailed("Unknown Expect: magic"), 417, "expectation_failed"),
        (sanic_exceptions.URITooLong("long"), 414, "uri_too_long"),
        (sanic_exceptions.RangeNotSatisfiable("range"), 416, "range_not_satisfiable"),
        (sanic_exceptions.SanicException("teapot", status_code=418), 418, "invalid_request"),
        (sanic_exceptions.ServerError("ours"), 500, "internal_error"),
    ],
)
def test_a_sanic_error_without_a_row_keeps_sanics_status(
    error: BaseException, status: int, code: str
) -> None:
    got_status, body, headers = http_error(error, "req-1")
    assert (got_status, body["error"]["code"]) == (status, code)
    assert (headers.get("x-should-retry") == "false") == (status < 500)


@pytest.mark.parametrize(
    ("error", "should_retry"),
    [
        (errors.ProviderNotConfigured("no key"), "false"),
        (errors.UnsupportedFeature("no tools"), "false"),
        (errors.ModelNotFound("gpt-9"), "false"),
        (errors.InvalidRequest("bad"), "false"),
        (errors.UpstreamAuthFailed("key", provider="p", status=401), "false"),
        (errors.UpstreamRateLimited("slow", provider="p", retry_after=None), None),
        (errors.UpstreamUnavailable("down", provider="p", status=503), None),
        (errors.DeploymentsUnavailable("all open", provider="p", retry_after=1), None),
        (sanic_exceptions.RequestTimeout("slow client"), None),
        (RuntimeError("bug"), None),
    ],
)
def test_errors_a_retry_cannot_fix_say_so(error: BaseException, should_retry: str | None) -> None:
    assert http_error(error)[2].get("x-should-retry") == should_retry


# What a client gets for every class the table names, written out independently of the table:
# a row deleted or changed moves its class to another row (its parent's), and the test says which.
EXPECTED_ROWS: dict[type[BaseException], tuple[int, str, str, bool]] = {
    errors.AdminDisabled: (403, "permission_error", "admin_disabled", False),
    errors.AdminDenied: (401, "authentication_error", "invalid_master_key", False),
    errors.InvalidRequest: (400, "invalid_request_error", "invalid_request", False),
    errors.UnsupportedFeature: (400, "invalid_request_error", "unsupported_feature", False),
    errors.ModelNotFound: (404, "invalid_request_error", "model_not_found", False),
    errors.ModelRetired: (410, "invalid_request_error", "model_retired", False),
    errors.ProviderMismatch: (400, "invalid_request_error", "provider_mismatch", False),
    errors.PayloadTooLarge: (413, "invalid_request_error", "payload_too_large", False),
    errors.UnsupportedMediaType: (415, "invalid_request_error", "unsupported_media_type", False),
    errors.ResourceNotFound: (404, "invalid_request_error", "not_found", False),
    errors.Conflict: (409, "invalid_request_error", "conflict", False),
    errors.RequestError: (400, "invalid_request_error", "invalid_request", False),
    errors.InvalidApiKey: (401, "authentication_error", "invalid_api_key", False),
    errors.ModelNotAllowed: (403, "permission_error", "model_not_allowed", False),
    errors.BudgetExceeded: (402, "insufficient_quota", "budget_exceeded", False),
    errors.KeyRateLimited: (429, "rate_limit_error", "key_rate_limited", True),
    errors.AccessDenied: (403, "permission_error", "access_denied", False),
    errors.LimitsUnavailable: (503, "server_error", "limits_unavailable", True),
    errors.StoreUnavailable: (503, "server_error", "store_unavailable", True),
    errors.ProviderNotConfigured: (503, "server_error", "provider_not_configured", False),
    errors.ServerShuttingDown: (503, "server_error", "server_shutting_down", True),
    errors.ContextWindowExceeded: (400, "invalid_request_error", "context_length_exceeded", False),
    errors.UpstreamRejected: (400, "invalid_request_error", "upstream_rejected", False),
    errors.UpstreamRateLimited: (429, "rate_limit_error", "rate_limit_exceeded", True),
    errors.UpstreamAuthFailed: (502, "upstream_error", "upstream_auth_failed", False),
    errors.UpstreamUnavailable: (502, "upstream_error", "upstream_unavailable", True),
    errors.UpstreamTimeout: (504, "timeout_error", "upstream_timeout", True),
    errors.UpstreamBusy: (504, "timeout_error", "upstream_timeout", True),
    errors.UpstreamProtocolError: (502, "upstream_error", "upstream_bad_response", True),
    errors.DeploymentsUnavailable: (503, "upstream_error", "deployments_unavailable", True),
    errors.UpstreamError: (502, "upstream_error", "upstream_error", True),
    errors.CalciferError: (500, "server_error", "internal_error", True),
    sanic_exceptions.RequestCancelled: (499, "invalid_request_error", "client_closed_request", True),
    sanic_exceptions.NotFound: (404, "invalid_request_error", "not_found", False),
    sanic_exceptions.MethodNotAllowed: (405, "invalid_request_error", "method_not_allowed", False),
    sanic_exceptions.PayloadTooLarge: (413, "invalid_request_error", "payload_too_large", False),
    sanic_exceptions.RequestTimeout: (408, "invalid_request_error", "request_timeout", True),
    sanic_exceptions.ServiceUnavailable: (504, "timeout_error", "response_timeout", True),
    RequestHeadTooLarge: (431, "invalid_request_error", "request_header_fields_too_large", False),
    sanic_exceptions.BadRequest: (400, "invalid_request_error", "bad_request", False),
    sanic_exceptions.SanicException: (500, "server_error", "internal_error", True),
    BaseException: (500, "server_error", "internal_error", True),
}


@pytest.mark.parametrize("cls", list(EXPECTED_ROWS), ids=lambda cls: cls.__name__)
def test_every_row_gives_its_class_the_answer_a_client_expects(cls: type[BaseException]) -> None:
    row = error_row(BaseException.__new__(cls))  # the lookup a raised instance gets, by its class
    assert (row.status, row.type, row.code, row.retry) == EXPECTED_ROWS[cls]


def test_the_expected_rows_name_every_row_of_the_table() -> None:
    assert set(ERROR_TABLE) == set(EXPECTED_ROWS)
