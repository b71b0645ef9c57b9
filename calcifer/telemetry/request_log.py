"""The one log line per request, written without loguru's per-record machinery.

Loguru costs ~17 µs a record (frame lookup, record dict, formatting, a write per line), a
sixth of the gateway's CPU at full load. The request line is the only line written for
every request, so it has this fast path: the fields are queued as the request ends, and
formatted and written together once the event loop has sent the answers (one write per
loop turn, however many requests ended in it). Lines look exactly like loguru's lines in
the configured format, and go to the same stream. `configure_logging` gives loguru one sink,
standard error; a second sink added there would not see this line, and must be added here too.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from calcifer.settings import LoggingSettings

__all__ = ["MAX_FIELD_CHARS", "RequestLog"]

LOGGER_NAME = "calcifer.http.hooks.log_line"
MESSAGE = "request"
_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "SUCCESS": 25, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_COLORS = {"INFO": "\x1b[1m", "WARNING": "\x1b[33m\x1b[1m", "ERROR": "\x1b[31m\x1b[1m"}
_GREEN, _CYAN, _RESET = "\x1b[32m", "\x1b[36m", "\x1b[0m"
MAX_FIELD_CHARS = 2048
"""The most one field's text adds to a line: a client's `metadata` must not flood the log."""


class RequestLog:
    def __init__(self, settings: LoggingSettings) -> None:
        self._threshold = _LEVELS.get(settings.level.upper(), 20)
        self._json = settings.format == "json"
        # Colours only on a terminal, decided once as loguru decides them when its sink is added.
        self._colors = not self._json and sys.stderr.isatty()
        self._pending: list[tuple[float, str, Mapping[str, Any]]] = []
        self._second = -1
        self._second_text = ""

    def enabled(self, level: str) -> bool:
        return _LEVELS.get(level, 20) >= self._threshold

    def write(self, level: str, fields: Mapping[str, Any]) -> None:
        """Queue a line; it is written when the event loop next turns (or at once, with no loop)."""
        if not self.enabled(level):
            return
        self._pending.append((time.time(), level, fields))
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        render = self._json_line if self._json else self._human_line
        colors = self._colors
        sys.stderr.write("".join(render(when, level, fields, colors) for when, level, fields in pending))

    def _human_line(self, when: float, level: str, fields: Mapping[str, Any], colors: bool) -> str:
        stamp = self._timestamp(when)
        try:
            extra = "".join(f" {key}={value}" for key, value in fields.items() if value is not None)
        except Exception:  # noqa: BLE001 - a value that cannot be written must not lose the line
            extra = ""
        if not extra or len(extra) > MAX_FIELD_CHARS:  # the slow path: only for odd lines
            extra = "".join(
                f" {key}={_bounded(_text(value))}" for key, value in fields.items() if value is not None
            )
        if colors:
            color = _COLORS.get(level, "")
            return (
                f"{_GREEN}{stamp}{_RESET} {color}{level: <7}{_RESET} {_CYAN}{LOGGER_NAME}{_RESET} "
                f"{color}{MESSAGE}{_RESET}{extra}\n"
            )
        return f"{stamp} {level: <7} {LOGGER_NAME} {MESSAGE}{extra}\n"

    @staticmethod
    def _json_line(when: float, level: str, fields: Mapping[str, Any], colors: bool) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(when).astimezone().isoformat(),
            "level": level,
            "logger": LOGGER_NAME,
            "message": MESSAGE,
        }
        line.update((key, value) for key, value in fields.items() if value is not None)
        try:
            text = orjson.dumps(line, default=str).decode()
        except Exception:  # noqa: BLE001 - an integer beyond 64 bits, a value with no text
            text = ""
        if not text or len(text) > MAX_FIELD_CHARS:  # the slow path: only for odd lines
            text = orjson.dumps({key: _json_value(value) for key, value in line.items()}).decode()
        return text + "\n"

    def _timestamp(self, when: float) -> str:
        """`YYYY-MM-DD HH:mm:ss.SSS` in local time, as loguru writes it; the seconds part is
        formatted once per second."""
        second = int(when)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._second_text}.{int((when - second) * 1000):03d}"


def _json_value(value: Any) -> Any:
    """`value` as a JSON line carries it: a number orjson can write, or bounded text."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, str):
        return _bounded(value)
    try:
        text = orjson.dumps(value, default=str).decode()
    except Exception:  # noqa: BLE001 - as text, then
        return _bounded(_text(value))
    return value if len(text) <= MAX_FIELD_CHARS else _bounded(text)  # an object stays one when it can


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a value whose __str__ fails still gets a line
        return f"<{type(value).__name__} without text>"


def _bounded(text: str) -> str:
    if len(text) <= MAX_FIELD_CHARS:
        return text
    return f"{text[:MAX_FIELD_CHARS]}...(truncated, {len(text)} characters)"
