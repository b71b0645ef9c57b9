"""Reading server-sent events from an upstream response."""

from __future__ import annotations

from calcifer.transport.base import DEFAULT_LIMITS, ResponseTooLarge

__all__ = ["SseSplitter", "data_of"]

_DONE = b"[DONE]"


class SseSplitter:
    """The `data:` payloads of an event stream, fed the body piece by piece as it arrives.

    Every event completed by one piece comes out together, so a caller can forward them in
    one write. `[DONE]` ends the stream: nothing after it is returned, and `done` is set.
    (A plain object rather than an async generator: one layer less per chunk.)

    An event still incomplete past `max_event_bytes` raises `ResponseTooLarge`: without a
    cap, a stream that never sends its blank line would grow the buffer without end.

    With `frames`, each event comes out whole instead, as received (`event:`, `id:`, comment
    and `data:` lines, and its blank line), for a pass-through that relays the provider's bytes:
    the frames put end to end are the body (a body with `\r\n` line ends comes out with `\n`).
    `[DONE]` is then not special.
    """

    __slots__ = (
        "_carry", "_ends_with_newline", "_frames", "_max_event_bytes", "_pending", "_pending_bytes", "done",
    )  # fmt: skip

    def __init__(
        self, max_event_bytes: int = DEFAULT_LIMITS.max_event_bytes, *, frames: bool = False
    ) -> None:
        # The unfinished event is kept as a list of pieces and joined only once a piece
        # completes it: re-joining it per piece would make a long event quadratic.
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._ends_with_newline = False
        self._carry = b""  # a piece's last `\r`, in case the next one starts with `\n`
        self._max_event_bytes = max_event_bytes
        self._frames = frames
        self.done = False

    def feed(self, piece: bytes) -> list[bytes]:
        if self._carry or b"\r" in piece:
            piece = self._normalized(piece)
        if b"\n\n" not in piece and not (self._ends_with_newline and piece[:1] == b"\n"):
            self._hold(piece)
            return []
        buffer = b"".join((*self._pending, piece)) if self._pending else piece
        *events, rest = buffer.split(b"\n\n")
        self._pending, self._pending_bytes, self._ends_with_newline = [], 0, False
        self._hold(rest)
        if len(buffer) > self._max_event_bytes:  # one comparison per piece, the usual case
            self._check_sizes(events)
        if self._frames:
            return [event + b"\n\n" for event in events]
        payloads = [data for data in map(data_of, events) if data is not None]
        if _DONE in payloads:
            self.done = True
            return payloads[: payloads.index(_DONE)]
        return payloads

    def _normalized(self, piece: bytes) -> bytes:
        piece, self._carry = self._carry + piece, b""
        if piece.endswith(b"\r"):
            piece, self._carry = piece[:-1], b"\r"
        return piece.replace(b"\r\n", b"\n")

    def _hold(self, piece: bytes) -> None:
        if not piece:
            return
        self._pending.append(piece)
        self._pending_bytes += len(piece)
        self._ends_with_newline = piece.endswith(b"\n")
        if self._pending_bytes > self._max_event_bytes:
            raise ResponseTooLarge(f"a server-sent event is over {self._max_event_bytes} bytes")

    def _check_sizes(self, events: list[bytes]) -> None:
        if max(map(len, events), default=0) > self._max_event_bytes:
            raise ResponseTooLarge(f"a server-sent event is over {self._max_event_bytes} bytes")

    def end(self) -> list[bytes]:
        """The body ended: a last event that lacked its blank line still counts."""
        rest = b"".join((*self._pending, self._carry))
        self._pending, self._pending_bytes, self._carry = [], 0, b""
        if self._frames:
            return [rest] if rest else []
        tail = data_of(rest.strip(b"\n"))
        return [tail] if tail is not None and tail != _DONE else []


def data_of(event: bytes) -> bytes | None:
    """The data of one event (its `data:` lines joined), or None when it has none."""
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None
