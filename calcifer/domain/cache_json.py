"""JSON for the response cache's keys and entries: orjson (several times faster than the
standard library on a request's path), the standard library for what orjson refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

loads = orjson.loads


def dumps(value: Any, *, sorted_keys: bool = False, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact UTF-8 JSON; an integer beyond 64 bits, which orjson refuses, goes through the
    standard library. What neither can write raises TypeError or ValueError."""
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_SORT_KEYS if sorted_keys else None)
    except orjson.JSONEncodeError:
        text = json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, sort_keys=sorted_keys, default=default
        )
        return text.encode()
