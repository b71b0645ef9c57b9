"""The request log line in both formats an operator can choose."""

from __future__ import annotations

import orjson
import pytest
from loguru import logger

from calcifer.settings import LoggingSettings
from calcifer.telemetry.logging import configure_logging


def log_request() -> None:
    logger.bind(request_id="r-1", model="echo4", cost="0.0002", error=None).info("request")


def test_human_lines_show_the_fields_inline(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LoggingSettings(level="INFO", format="human"))
    log_request()
    line = capsys.readouterr().err.strip()
    assert line.endswith("request request_id=r-1 model=echo4 cost=0.0002")


def test_json_lines_carry_the_fields_as_keys(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LoggingSettings(level="INFO", format="json"))
    log_request()
    record = orjson.loads(capsys.readouterr().err.strip())
    assert (record["message"], record["request_id"], record["cost"]) == ("request", "r-1", "0.0002")
    assert "error" not in record and "fields" not in record


def test_json_lines_name_an_errors_type_and_where_it_was_raised(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LoggingSettings(level="INFO", format="json"))

    def broken() -> None:
        raise LookupError()  # no message: the type is all an operator would have to go on

    try:
        broken()
    except LookupError as exc:
        logger.opt(exception=exc).error("unhandled error")
    record = orjson.loads(capsys.readouterr().err.strip())
    assert record["exception"] == "LookupError: "
    assert "in broken" in record["traceback"]


def test_human_tracebacks_show_no_variable_values(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LoggingSettings(level="INFO", format="human"))

    def broken(prompt: str) -> None:
        raise ValueError("bad request")

    prompt = " ".join(["my", "secret", "prompt"])
    try:
        broken(prompt)
    except ValueError:
        logger.exception("unhandled error")
    err = capsys.readouterr().err
    assert "ValueError: bad request" in err
    assert "my secret prompt" not in err


def test_a_json_line_with_an_integer_beyond_64_bits_is_still_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LoggingSettings(level="INFO", format="json"))
    logger.bind(tokens=10**20).info("usage")
    record = orjson.loads(capsys.readouterr().err.strip())
    assert (record["message"], record["tokens"]) == ("usage", str(10**20))
