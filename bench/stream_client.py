"""An asyncio streaming load generator: time to first byte, total time, every chunk and [DONE] checked.

It counts `data: ` markers in the raw bytes instead of parsing events, so that one core
can follow a thousand paced streams without becoming the bottleneck it is measuring.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

DONE = b"data: [DONE]\n\n"


@dataclass
class StreamResult:
    ttfb: float
    total: float
    events: int
    ok: bool


@dataclass
class StreamStats:
    results: list[StreamResult] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def completed(self) -> list[StreamResult]:
        return [r for r in self.results if r.ok]

    @property
    def errors(self) -> int:
        return sum(1 for r in self.results if not r.ok)


async def _one(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], expected_events: int
) -> StreamResult:
    started = time.perf_counter()
    ttfb = 0.0
    events = 0
    tail = b""
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status != 200:
                await response.read()
                return StreamResult(0.0, time.perf_counter() - started, 0, False)
            async for piece in response.content.iter_any():
                if not ttfb:
                    ttfb = time.perf_counter() - started
                joined = tail + piece
                events += joined.count(b"data: ") - tail.count(b"data: ")
                tail = joined[-32:]
    except (TimeoutError, aiohttp.ClientError):
        return StreamResult(ttfb, time.perf_counter() - started, events, False)
    total = time.perf_counter() - started
    ok = tail.endswith(DONE) and events >= expected_events
    return StreamResult(ttfb, total, events, ok)


async def run_streams(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    per_worker: int,
    expected_events: int,
    headers: dict[str, str] | None = None,
    seconds_limit: float = 120,
) -> StreamStats:
    """`concurrency` workers each run `per_worker` streams back to back."""
    stats = StreamStats()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=seconds_limit)
    request_headers = {"Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def worker() -> None:
            for _ in range(per_worker):
                stats.results.append(await _one(session, url, body, request_headers, expected_events))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        stats.elapsed = time.perf_counter() - started
    return stats
