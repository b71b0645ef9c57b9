"""The fast request line reads exactly like the line loguru would have written."""

from __future__ import annotations

import re
from decimal import Decimal

import orjson
import pytest
from loguru import logger

from calcifer.domain.usage import Usage
from calcifer.http.hooks.log_line import LogLine
from calcifer.http.scope import RequestScope
from calcifer.settings import LoggingSettings
from calcifer.telemetry.logging import configure_logging
from calcifer.telemetry.request_log import LOGGER_NAME, MAX_FIELD_CHARS, RequestLog

FIELDS = {"request_id": "r-1", "model": "echo4", "status": 200, "cost": "0.0002", "error": None}
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ")


def through_loguru(fields: dict[str, object], level: str = "INFO") -> None:
    logger.patch(lambda record: record.update(name=LOGGER_NAME)).bind(**fields).log(level, "request")


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_human_line_matches_loguru_after_the_time(capsys: pytest.CaptureFixture[str], level: str) -> None:
    settings = LoggingSettings(level="INFO", format="human")
    configure_logging(settings)
    through_loguru(FIELDS, level)
    RequestLog(settings).write(level, FIELDS)  # no event loop here: written at once
    ours, theirs = capsys.readouterr().err.splitlines()[::-1]
    assert STAMP.match(ours) and STAMP.match(theirs)
    assert STAMP.sub("", ours) == STAMP.sub("", theirs)
    assert ours.endswith("request request_id=r-1 model=echo4 status=200 cost=0.0002")


def test_json_line_has_loguru_keys(capsys: pytest.CaptureFixture[str]) -> None:
    settings = LoggingSettings(level="INFO", format="json")
    configure_logging(settings)
    through_loguru(FIELDS)
    RequestLog(settings).write("INFO", FIELDS)
    theirs, ours = (orjson.loads(line) for line in capsys.readouterr().err.splitlines())
    assert theirs.pop("time")[:16] == ours.pop("time")[:16]
    assert ours == theirs == {
        "level": "INFO",
        "logger": LOGGER_NAME,
        "message": "request",
        "request_id": "r-1",
        "model": "echo4",
        "status": 200,
        "cost": "0.0002",
    }


def test_lines_below_the_configured_level_are_not_written(capsys: pytest.CaptureFixture[str]) -> None:
    log = RequestLog(LoggingSettings(level="WARNING", format="json"))
    log.write("INFO", FIELDS)
    log.write("ERROR", FIELDS)
    lines = capsys.readouterr().err.splitlines()
    assert [orjson.loads(line)["level"] for line in lines] == ["ERROR"]


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


@pytest.mark.parametrize("format", ["json", "human"])
def test_a_line_with_absurd_or_unprintable_values_is_still_written(
    capsys: pytest.CaptureFixture[str], format: str
) -> None:
    settings = LoggingSettings(level="INFO", format=format)
    fields = {"request_id": "r-1", "prompt_tokens": 10**20, "odd": Unprintable(), "status": 200}
    RequestLog(settings).write("INFO", fields)
    line = capsys.readouterr().err.strip()
    assert "r-1" in line and "100000000000000000000" in line and "status" in line
    if format == "json":
        assert orjson.loads(line)["prompt_tokens"] == "100000000000000000000"


@pytest.mark.parametrize("format", ["json", "human"])
def test_a_huge_field_contributes_a_bounded_marked_part_of_the_line(
    capsys: pytest.CaptureFixture[str], format: str
) -> None:
    settings = LoggingSettings(level="INFO", format=format)
    metadata = {f"k{i}": "x" * 1000 for i in range(1000)}
    RequestLog(settings).write("INFO", {"request_id": "r-1", "metadata": metadata, "model": "m" * 10_000})
    line = capsys.readouterr().err.strip()
    assert len(line) < 3 * MAX_FIELD_CHARS + 500
    assert line.count("truncated") == 2


@pytest.mark.parametrize(("cost", "written"), [("4.5E-7", "0.00000045"), ("0.000", "0"), ("1.2300", "1.23")])
def test_the_request_line_writes_cost_as_plain_decimal_text(
    capsys: pytest.CaptureFixture[str], cost: str, written: str
) -> None:
    settings = LoggingSettings(level="INFO", format="json")
    scope = RequestScope(request_id="r-1", route="chat")
    scope.priced(Usage(input_tokens=10**20, output_tokens=1), Decimal(cost), 0.0)
    LogLine(RequestLog(settings)).exit(scope)
    line = orjson.loads(capsys.readouterr().err)
    assert line["cost"] == written
    assert line["prompt_tokens"] == str(10**20)


def test_a_small_object_stays_an_object_on_a_long_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    RequestLog(LoggingSettings(level="INFO", format="json")).write(
        "INFO", {"request_id": "r-1", "metadata": {"team": "search"}, "model": "m" * 5000}
    )
    line = orjson.loads(capsys.readouterr().err)
    assert line["metadata"] == {"team": "search"}
    assert line["model"].endswith("(truncated, 5000 characters)")
