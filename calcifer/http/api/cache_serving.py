"""The response cache on the wire: the client's `Cache-Control` and `X-Calcifer-Cache-Ttl`,
and the headers that say what the cache did (`X-Calcifer-Cache`, the original request, `Age`)."""

from __future__ import annotations

from collections.abc import Mapping

from calcifer.domain.cached_answer import CachedAnswer
from calcifer.domain.cached_stream import CachedStream
from calcifer.domain.caching import CacheDirective, CachePlan, CacheResult
from calcifer.errors import InvalidRequest

__all__ = [
    "CACHE_HEADER",
    "ORIGIN_HEADER",
    "SAMPLED_HEADER",
    "TTL_HEADER",
    "directive_of",
    "hit_headers",
    "plan_headers",
]

CACHE_HEADER = "X-Calcifer-Cache"
TTL_HEADER = "X-Calcifer-Cache-Ttl"
SAMPLED_HEADER = "X-Calcifer-Cache-Sampled"
"""`true`: the client accepts a cached answer to a sampled request (and lets its answer be kept)."""
ORIGIN_HEADER = "X-Calcifer-Cache-Request-Id"
"""On a hit: the gateway's id of the request whose answer this is."""
_LONGEST_TTL = 30 * 86_400.0


def directive_of(headers: Mapping[str, str]) -> CacheDirective:
    """What the request's headers ask of the cache; a bad TTL or opt-in is the client's error (400)."""
    control = headers.get("cache-control")
    ttl_header = headers.get(TTL_HEADER)
    sampled_header = headers.get(SAMPLED_HEADER)
    if control is None and ttl_header is None and sampled_header is None:
        return _NONE
    directives = {part.strip().lower() for part in (control or "").split(",")}
    no_cache, no_store = "no-cache" in directives, "no-store" in directives
    return CacheDirective(no_cache, no_store, _ttl(ttl_header), _sampled(sampled_header))


def plan_headers(plan: CachePlan) -> dict[str, str]:
    return {} if plan.result is None else {CACHE_HEADER: plan.result}


def hit_headers(answer: CachedAnswer | CachedStream) -> dict[str, str]:
    return {CACHE_HEADER: CacheResult.HIT, ORIGIN_HEADER: answer.request_id, "Age": str(answer.age_seconds())}


def _ttl(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        seconds = -1
    if not 0 < seconds <= _LONGEST_TTL:
        raise InvalidRequest(f"{TTL_HEADER} must be a number of seconds, at most 30 days", param=TTL_HEADER)
    return seconds


def _sampled(header: str | None) -> bool:
    if header is None:
        return False
    value = header.strip().lower()
    if value not in {"true", "false"}:
        raise InvalidRequest(f"{SAMPLED_HEADER} must be true or false", param=SAMPLED_HEADER)
    return value == "true"


_NONE = CacheDirective()
