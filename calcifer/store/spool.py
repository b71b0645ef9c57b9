"""A bounded on-disk queue of ledger records the database could not take: JSON lines in
numbered segment files, in one directory per process (claimed with a file lock, so a
restarted worker takes over what a previous one left behind)."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from calcifer.domain.ports import LedgerRecord

__all__ = ["Spool", "record_from_json", "record_to_json"]

MAX_DIRECTORIES = 256
"""Directories a machine's workers may claim (`w0` … `w255`): far more than workers."""


@dataclass(slots=True)
class _Segment:
    path: Path
    records: int
    size: int
    open: bool = False
    """Still appended to (only the newest segment, and only until it is being replayed)."""


class Spool:
    """Thread-safe: written by the writer's thread and, when its queue is full, by the event
    loop itself (an append to the page cache). Use `claim` to make one."""

    def __init__(self, directory: Path, max_bytes: int, lock_file: Any) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = max(64 * 1024, min(2**20, max_bytes // 8))
        """Small enough that replaying one segment (read whole) stays cheap."""
        self.lost_records = 0
        self._lock = threading.Lock()
        self._lock_file = lock_file
        self._segments = [self._scan(path) for path in sorted(directory.glob("segment-*.jsonl"))]
        self._next_number = self._number(self._segments[-1].path) + 1 if self._segments else 0

    @classmethod
    def claim(cls, base: Path, max_bytes: int) -> Spool:
        """The first directory under `base` no live process holds (blocking file I/O: call
        from a thread)."""
        base.mkdir(parents=True, exist_ok=True)
        for number in range(MAX_DIRECTORIES):
            directory = base / f"w{number}"
            directory.mkdir(exist_ok=True)
            lock_file = (directory / "lock").open("a")
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.close()
                continue
            return cls(directory, max_bytes, lock_file)
        raise OSError(f"every spool directory under {base} is held by another process")

    @property
    def records(self) -> int:
        return sum(segment.records for segment in self._segments)

    def write(self, records: Sequence[LedgerRecord]) -> None:
        """Append in order; when the spool would outgrow `max_bytes`, drop its oldest segments."""
        if not records:
            return
        data = "".join(record_to_json(record) + "\n" for record in records).encode()
        with self._lock:
            self._make_room(len(data))
            segment = self._current()
            with segment.path.open("ab") as file:
                file.write(data)
            segment.records += len(records)
            segment.size += len(data)

    @property
    def rejected_path(self) -> Path:
        """Records the database refused (not an outage: a bad value), kept for a person to read."""
        return self.directory / "rejected.jsonl"

    def set_aside(self, records: Sequence[LedgerRecord]) -> None:
        """Bounded too (an eighth of the spool): past that, refused records are only logged."""
        data = "".join(record_to_json(record) + "\n" for record in records).encode()
        with self._lock:
            path = self.rejected_path
            if path.exists() and path.stat().st_size + len(data) > self.max_bytes // 8:
                self.lost_records += len(records)
                logger.error("ledger: {} refused record(s) lost, {} is full", len(records), path.name)
                return
            with path.open("ab") as file:
                file.write(data)

    def oldest(self) -> tuple[Path, list[LedgerRecord]] | None:
        """The oldest segment's records (that segment is sealed: new records go to a newer one)."""
        with self._lock:
            if not self._segments:
                return None
            segment = self._segments[0]
            segment.open = False
        return segment.path, _read(segment.path)

    def remove(self, path: Path) -> None:
        """Forget a segment once every record in it is in the database."""
        with self._lock:
            self._segments = [segment for segment in self._segments if segment.path != path]
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self._lock_file.close()

    def _current(self) -> _Segment:
        if self._segments and self._segments[-1].open and self._segments[-1].size < self.segment_bytes:
            return self._segments[-1]
        segment = _Segment(self.directory / f"segment-{self._next_number:012d}.jsonl", 0, 0, open=True)
        self._next_number += 1
        self._segments.append(segment)
        return segment

    def _make_room(self, incoming: int) -> None:
        while self._segments and sum(s.size for s in self._segments) + incoming > self.max_bytes:
            dropped = self._segments.pop(0)
            dropped.path.unlink(missing_ok=True)
            self.lost_records += dropped.records
            logger.error(
                "ledger spool is full ({} MB): dropped its oldest {} record(s), {} lost so far",
                self.max_bytes // 2**20, dropped.records, self.lost_records,
            )  # fmt: skip

    @staticmethod
    def _number(path: Path) -> int:
        return int(path.stem.removeprefix("segment-"))

    @staticmethod
    def _scan(path: Path) -> _Segment:
        with path.open("rb") as file:
            lines = sum(1 for _ in file)
        return _Segment(path, lines, os.path.getsize(path))


def _read(path: Path) -> list[LedgerRecord]:
    records = []
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            try:
                records.append(record_from_json(line))
            except (ValueError, TypeError, KeyError) as exc:
                # A line cut short by a crash mid-write: the rest of the segment is still good.
                logger.error("ledger spool {} line {} cannot be read ({}): skipped", path.name, number, exc)
    return records


def record_to_json(record: LedgerRecord) -> str:
    document: dict[str, Any] = {}
    for field in fields(record):
        value = getattr(record, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        document[field.name] = value
    return json.dumps(document, separators=(",", ":"))


def record_from_json(line: bytes | str) -> LedgerRecord:
    document = json.loads(line)
    document["started_at"] = datetime.fromisoformat(document["started_at"])
    document["cost_usd"] = Decimal(document["cost_usd"])
    document["saved_usd"] = Decimal(document.get("saved_usd", "0"))  # spooled before the cache
    return LedgerRecord(**document)
