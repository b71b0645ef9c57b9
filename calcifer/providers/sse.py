"""Reading server-sent events from an upstream response."""

from __future__ import annotations

from collections.abc import AsyncIterator

__all__ = ["sse_batches"]


async def sse_batches(pieces: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The `data:` payloads of an event stream, in batches: every event completed by one
    network read comes out together, so a caller can forward them in one write. Ends at
    `[DONE]`."""
    buffer = b""
    async for piece in pieces:
        buffer += piece
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        *events, buffer = buffer.split(b"\n\n")
        payloads = [data for data in map(_data_of, events) if data is not None]
        if _DONE in payloads:
            yield payloads[: payloads.index(_DONE)]
            return
        if payloads:
            yield payloads
    tail = _data_of(buffer.strip(b"\n"))
    if tail is not None and tail != _DONE:
        yield [tail]


_DONE = b"[DONE]"


def _data_of(event: bytes) -> bytes | None:
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None
