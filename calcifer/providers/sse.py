"""Reading server-sent events from an upstream response."""

from __future__ import annotations

from collections.abc import AsyncIterator

__all__ = ["sse_payloads"]


async def sse_payloads(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The `data:` payloads of an event stream, each event's lines joined, up to `[DONE]`."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif not line and data:
            payload = "\n".join(data)
            data.clear()
            if payload == "[DONE]":
                return
            yield payload
    if data and data != ["[DONE]"]:
        yield "\n".join(data)
