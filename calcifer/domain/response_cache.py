"""The response cache's rules: which requests may be cached, and the key of an answer.

The key is a hash of a canonical form (sorted-key JSON) of everything that determines the
answer, and of nothing that does not (who asked, tags, transport options), plus the scope
that may share it. See docs/cache.md for the list and the defaults.
"""

from __future__ import annotations

import hashlib
from typing import Any

from calcifer.domain import cache_json
from calcifer.domain.cache_policy import CachePolicy, CacheScope
from calcifer.domain.chat import ChatRequest

__all__ = [
    "IGNORED_FIELDS",
    "CachePolicy",
    "CacheScope",
    "cache_key",
    "refusal_reason",
    "scope_id",
]

KEY_VERSION = "v2"
"""Part of every key: a change to the canonical form changes it, so old entries are never read."""

IGNORED_FIELDS = frozenset(
    {
        "user",  # who asked (OpenAI chat, Responses)
        "metadata",  # caller tags (all dialects; Anthropic's `metadata.user_id`)
        "stream",  # the shape of the answer is a separate part of the key
        "stream_options",  # whether the usage chunk is sent: the renderer decides, per request
        "store",  # OpenAI: keep the answer on the provider's side
        "safety_identifier",  # OpenAI: who asked, for abuse monitoring
        "prompt_cache_key",  # OpenAI: a routing hint for the provider's prompt cache
        "prompt_cache_retention",  # OpenAI: how long the provider keeps that prompt cache
        "request_id",
        "idempotency_key",
    }
)
"""Body fields that never change the answer, so never part of the key. `model` is replaced
by the served model's name (after alias resolution)."""


def refusal_reason(chat: ChatRequest, policy: CachePolicy) -> str | None:
    """Why this request may not be cached under `policy`; None when it may."""
    if not policy.enabled:
        return "disabled"
    body = chat.native.body if chat.native is not None else chat.body
    if not policy.multiple_choices and _number(body.get("n"), 1) > 1:
        return "n>1"
    if not policy.sampled and _number(body.get("temperature"), 1) > 0:
        return "sampled"
    return None


def scope_id(scope: CacheScope, key_id: str | None, team_id: str | None) -> str:
    """The part of the key that says who may share the entry."""
    if scope is CacheScope.GLOBAL:
        return "global"
    if scope is CacheScope.TEAM and team_id is not None:
        return f"team:{team_id}"
    return f"key:{key_id or '-'}"  # no key: a gateway without authentication, one client


def cache_key(chat: ChatRequest, served_model: str, scope: str) -> str:
    """The key of the answer to `chat` from `served_model`, shared within `scope`.

    A pass-through request is keyed by its native body (which determines the canonical one);
    the dialect is part of the key, so one answer is never rendered in another dialect.
    """
    body = chat.native.body if chat.native is not None else chat.body
    canonical = {
        "v": KEY_VERSION,
        "dialect": str(chat.dialect),
        "model": served_model,
        "shape": "stream" if chat.stream else "whole",
        "scope": scope,
        "headers": dict(chat.native.headers) if chat.native is not None else {},  # anthropic-beta
        "body": {name: value for name, value in body.items() if name not in _NOT_KEYED},
    }
    return hashlib.sha256(cache_json.dumps(canonical, sorted_keys=True, default=str)).hexdigest()


_NOT_KEYED = IGNORED_FIELDS | {"model"}


def _number(value: Any, default: float) -> float:
    """A numeric field's value; absent or null is the provider's default."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)
