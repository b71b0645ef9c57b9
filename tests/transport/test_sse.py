"""Reading upstream event streams: events split anywhere by the network still come out whole."""

from __future__ import annotations

from calcifer.transport.sse import SseSplitter


def batches(*pieces: bytes) -> list[list[bytes]]:
    splitter, out = SseSplitter(), []
    for piece in pieces:
        out.append(splitter.feed(piece))
        if splitter.done:
            return [batch for batch in out if batch]
    out.append(splitter.end())
    return [batch for batch in out if batch]


def test_events_completed_by_one_read_come_out_together() -> None:
    assert batches(b"data: 1\n\ndata: 2\n\ndata: 3") == [[b"1", b"2"], [b"3"]]


def test_an_event_split_across_reads_is_reassembled() -> None:
    assert batches(b"da", b'ta: {"a"', b":1}\n", b"\n") == [[b'{"a":1}']]


def test_crlf_line_endings_and_comments_and_multi_line_data() -> None:
    assert batches(b": keep-alive\r\n\r\nevent: x\r\ndata: a\r\ndata: b\r\n\r\n") == [[b"a\nb"]]


def test_a_crlf_split_between_reads_still_ends_the_event() -> None:
    assert batches(b"data: a\r\n\r", b"\ndata: b\r", b"\n\r\n") == [[b"a"], [b"b"]]


def test_done_ends_the_stream_and_nothing_after_it_is_read() -> None:
    splitter = SseSplitter()
    assert splitter.feed(b"data: 1\n\ndata: [DONE]\n\ndata: 2\n\n") == [b"1"]
    assert splitter.done


class CountedBytes(bytes):
    """Bytes that tally how many bytes the splitter scans or copies through them."""

    work = 0

    def _tally(self, *others: bytes) -> None:
        CountedBytes.work += len(self) + sum(len(other) for other in others)

    def __add__(self, other: bytes) -> CountedBytes:  # type: ignore[override]
        self._tally(other)
        return CountedBytes(bytes(self) + other)

    def __radd__(self, other: bytes) -> CountedBytes:
        self._tally(other)
        return CountedBytes(other + bytes(self))

    def __contains__(self, sub: object) -> bool:
        self._tally()
        return super().__contains__(sub)  # type: ignore[operator]

    def split(self, *args: object, **kwargs: object) -> list[bytes]:  # type: ignore[override]
        self._tally()
        return super().split(*args, **kwargs)  # type: ignore[arg-type]

    def replace(self, *args: object) -> CountedBytes:  # type: ignore[override]
        self._tally()
        return CountedBytes(super().replace(*args))  # type: ignore[arg-type]

    def find(self, *args: object) -> int:  # type: ignore[override]
        self._tally()
        return super().find(*args)  # type: ignore[arg-type]


def test_a_long_event_without_newlines_is_split_in_linear_work() -> None:
    """A stream that never sends a newline must not re-scan its whole buffer per piece."""
    CountedBytes.work = 0
    splitter, piece, pieces = SseSplitter(), b"x" * 1000, 1000
    assert splitter.feed(CountedBytes(b"data: ")) == []
    for _ in range(pieces):
        assert splitter.feed(CountedBytes(piece)) == []
    assert splitter.feed(CountedBytes(b"\n\n")) == [piece * pieces]
    assert CountedBytes.work <= 4 * len(piece) * pieces


def test_frames_come_out_whole_and_put_together_are_the_body_however_it_was_split() -> None:
    body = (
        b"event: message_start\ndata: {}\n\n: comment\n\n\n\nevent: ping\ndata: {}\n\n"
        b"event: future\nid: 7\ndata: [DONE]\n\nevent: message_stop\ndata: {}"
    )
    for cut in range(1, len(body)):
        splitter = SseSplitter(frames=True)
        frames = splitter.feed(body[:cut]) + splitter.feed(body[cut:]) + splitter.end()
        assert b"".join(frames) == body, cut
        assert frames[0] == b"event: message_start\ndata: {}\n\n"
        assert not splitter.done  # [DONE] means nothing to a pass-through
