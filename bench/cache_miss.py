"""The response cache's own work on a whole miss, in process: plan (the key), lookup, encode
and store (docs/performance.md, "The response cache"). The bench body and a small answer."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from calcifer.domain.access import ANONYMOUS
from calcifer.domain.caching import CacheDirective, ResponseCaching
from calcifer.domain.chat import ChatRequest, Completion, PricedCompletion
from calcifer.domain.models import ModelSpec
from calcifer.domain.pricing import Price
from calcifer.domain.response_cache import CachePolicy
from calcifer.domain.usage import Usage
from calcifer.state.cache_local import LocalResponseCache

CALLS = 50_000
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say ok"}]}
ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}


async def per_miss() -> float:
    """Seconds of cache work per miss (every lookup finds its entry expired, as the bench's
    miss column does with a 1 µs TTL)."""
    caching = ResponseCaching(LocalResponseCache(64 << 20, 1 << 20), CachePolicy(enabled=True, sampled=True))
    model = ModelSpec("gpt-4o", "bench", "gpt-4o", Price(input=Decimal("2.5"), output=Decimal(10)))
    chat = ChatRequest("gpt-4o", BODY)
    usage = Usage(input_tokens=9, output_tokens=1)
    completion = Completion(ANSWER, usage, "chatcmpl-bench", "gpt-4o", ("stop",))
    priced = PricedCompletion(completion, model, Decimal("0.0000325"))
    directive = CacheDirective(ttl_seconds=0.000001)
    started = time.perf_counter()
    for _ in range(CALLS):
        plan = caching.plan(chat, model, ANONYMOUS, directive)
        await caching.lookup(plan)
        caching.store_later(plan, priced, "req-bench")
        await asyncio.sleep(0)  # a backend write that runs as a task gets its turn
    return (time.perf_counter() - started) / CALLS


def main() -> None:
    print(f"cache work per miss: {asyncio.run(per_miss()) * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
