"""Logging, configured once per process: loguru for our lines, standard logging routed into it."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import TYPE_CHECKING, Any

import orjson
from loguru import logger

from calcifer.settings import LoggingSettings

if TYPE_CHECKING:
    from loguru import Message, Record

__all__ = ["configure_logging"]

_HUMAN_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan> {message}{extra[fields]}"
)


def configure_logging(settings: LoggingSettings) -> None:
    logger.remove()
    level = settings.level.upper()
    if settings.format == "json":
        logger.add(_json_sink, level=level, enqueue=False)
        logger.configure(patcher=None)
    else:
        # No variable values in tracebacks (`diagnose`): they would write prompts and keys to the log.
        logger.add(
            sys.stderr,
            level=level,
            format=_HUMAN_FORMAT,
            colorize=sys.stderr.isatty(),
            backtrace=False,
            diagnose=False,
        )
        # Only the human format shows the extra fields inline; JSON lines write them as keys.
        logger.configure(patcher=_flatten_extra)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.WARNING, force=True)
    for noisy in ("sanic.access", "httpx", "httpx2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _flatten_extra(record: Record) -> None:
    fields = {k: v for k, v in record["extra"].items() if k != "fields"}
    record["extra"]["fields"] = "".join(f" {k}={v}" for k, v in fields.items() if v is not None)


def _json_sink(message: Message) -> None:
    record = message.record
    line: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "logger": record["name"],
        "message": record["message"],
    }
    line.update((k, v) for k, v in record["extra"].items() if k != "fields" and v is not None)
    failure = record["exception"]
    if failure is not None and failure.type is not None:
        # the type and where it was raised, or an error with an empty message says nothing
        line["exception"] = f"{failure.type.__name__}: {failure.value}"
        line["traceback"] = "".join(
            traceback.format_exception(failure.type, failure.value, failure.traceback)
        )
    try:
        text = orjson.dumps(line, default=str).decode()
    except Exception:  # noqa: BLE001 - an integer beyond 64 bits, a value without text: still a line
        text = orjson.dumps({key: _plain(value) for key, value in line.items()}).decode()
    sys.stderr.write(text + "\n")


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | float):
        return value
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return f"<{type(value).__name__} without text>"


class _InterceptHandler(logging.Handler):
    """Send standard-library log records (Sanic, SDKs) through loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info, depth=6).log(level, record.getMessage())
