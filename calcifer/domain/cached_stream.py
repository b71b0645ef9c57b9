"""A streamed answer as the response cache keeps it: its chunks as they passed (with when, for
a paced replay), and a replay of them as a `PricedStream` the dialect renderers send as usual."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from calcifer.domain import cache_json
from calcifer.domain.cached_answer import fresh_id
from calcifer.domain.chat import Chunk
from calcifer.domain.models import ModelSpec
from calcifer.domain.observer import NULL_RECORD
from calcifer.domain.priced_stream import PricedStream
from calcifer.domain.usage import usage_document, usage_from_document

__all__ = ["CachedStream", "StreamRecorder"]

_FORMAT = 1


@dataclass(slots=True)
class StreamRecorder:
    """Given each chunk of a live stream (`PricedStream.tap`): keeps it and when it passed."""

    chunks: list[tuple[float, Chunk]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def __call__(self, chunk: Chunk) -> None:
        self.chunks.append((time.perf_counter() - self.started, chunk))

    def ended_normally(self, stream: PricedStream) -> bool:
        """The provider reported usage and why the answer stopped: nothing was cut."""
        usage = stream.usage
        return usage is not None and not usage.estimated and bool(stream.result.finish_reasons)


@dataclass(frozen=True, slots=True)
class CachedStream:
    chunks: tuple[tuple[float, Chunk], ...]
    model: str
    provider_id: str
    cost: Decimal
    request_id: str
    stored_at: float
    response_id: str | None = None

    @classmethod
    def recorded(cls, recorder: StreamRecorder, stream: PricedStream, request_id: str) -> CachedStream:
        model = stream.model
        cost = stream.cost if stream.cost is not None else Decimal(0)
        return cls(
            tuple(recorder.chunks), model.name, model.provider_id, cost, request_id, time.time(),
            stream.result.response_id,
        )  # fmt: skip

    def encode(self) -> bytes:
        """A header line (who, when, the response id), then the chunks: a replay gives the
        stream a fresh id by replacing the old one in the chunk text before it is parsed."""
        header = {
            "f": _FORMAT,
            "model": self.model,
            "provider": self.provider_id,
            "cost": str(self.cost),
            "request_id": self.request_id,
            "stored_at": self.stored_at,
            "response_id": self.response_id,
        }
        chunks = [[offset, _chunk_document(chunk)] for offset, chunk in self.chunks]
        return _dumps(header) + b"\n" + _dumps(chunks)

    @classmethod
    def decode(cls, value: bytes, fresh: bool = True) -> CachedStream | None:
        try:
            head, _, body = value.partition(b"\n")
            header: dict[str, Any] = cache_json.loads(head)
            if header.get("f") != _FORMAT:
                return None
            old_id = header["response_id"]
            new_id = fresh_id(old_id) if fresh and isinstance(old_id, str) and old_id else old_id
            if new_id != old_id:
                body = body.replace(old_id.encode(), new_id.encode())
            chunks = tuple(
                (float(offset), _chunk_of(document)) for offset, document in cache_json.loads(body)
            )
            cost = Decimal(header["cost"])
            return cls(
                chunks, header["model"], header["provider"], cost, header["request_id"],
                float(header["stored_at"]), new_id,
            )  # fmt: skip
        except (ValueError, KeyError, TypeError, ArithmeticError):
            return None

    def age_seconds(self) -> int:
        return max(0, int(time.time() - self.stored_at))

    async def replay(self, model: ModelSpec, cost_fraction: Decimal, paced: bool) -> PricedStream:
        """The chunks as a started stream priced at `cost_fraction` of `model`'s price."""
        priced_as = replace(model, price=model.price.scaled(cost_fraction), schedule=None)
        stream = PricedStream(priced_as, self._chunks(paced), NULL_RECORD)
        await stream.start()
        stream.attempts = 0
        return stream

    async def _chunks(self, paced: bool) -> AsyncIterator[Chunk]:
        started = time.perf_counter()
        for offset, chunk in self.chunks:
            if paced:
                await asyncio.sleep(max(0.0, offset - (time.perf_counter() - started)))
            yield chunk


def _chunk_document(chunk: Chunk) -> dict[str, Any]:
    return {
        "data": chunk.data,
        "raw": chunk.raw.decode() if chunk.raw is not None else None,
        "usage": usage_document(chunk.usage) if chunk.usage is not None else None,
        "usage_so_far": usage_document(chunk.usage_so_far) if chunk.usage_so_far is not None else None,
        "more": chunk.more,
        "text_chars": chunk.text_chars,
        "finish_reasons": list(chunk.finish_reasons),
        "response_id": chunk.response_id,
        "response_model": chunk.response_model,
        "native": chunk.native,
    }


def _chunk_of(document: dict[str, Any]) -> Chunk:
    raw, usage, so_far = document["raw"], document["usage"], document["usage_so_far"]
    return Chunk(
        data=document["data"],
        raw=raw.encode() if raw is not None else None,
        usage=usage_from_document(usage) if usage is not None else None,
        more=bool(document["more"]),
        usage_so_far=usage_from_document(so_far) if so_far is not None else None,
        text_chars=int(document["text_chars"]),
        finish_reasons=tuple(document["finish_reasons"]),
        response_id=document["response_id"],
        response_model=document["response_model"],
        native=bool(document["native"]),
    )


_dumps = cache_json.dumps
